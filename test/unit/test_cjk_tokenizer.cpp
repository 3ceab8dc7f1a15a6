#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/cjk_tokenizer.hpp"

using keel::core::CjkCharClass;
using keel::core::CjkToken;
using keel::core::CjkTokenizer;
using keel::core::CjkTokenType;
using keel::core::ClassifyCodePoint;
using keel::core::DecodeUtf8;
using keel::core::HeadlineOptions;
using keel::core::HeadlineToken;
using keel::core::kInvalidCodePoint;
using keel::core::kMaxTokenBytes;
using keel::core::SelectHeadline;

namespace {

using T = CjkTokenType;

// "B:数据" style: one letter per type, then the token text.
std::string Tag(T type) {
    switch (type) {
        case T::kWord:
            return "W";
        case T::kNumber:
            return "N";
        case T::kCjkBigram:
            return "B";
        case T::kCjkUnigram:
            return "U";
        case T::kLongWord:
            return "L";
        case T::kBlank:
            return "_";
        case T::kEnd:
            return "END";
    }
    return "?";
}

std::vector<std::pair<T, std::string>> Tokens(const std::string& s) {
    std::vector<std::pair<T, std::string>> out;
    CjkTokenizer tok(s.data(), s.size());
    CjkToken t;
    while (tok.Next(&t))
        out.emplace_back(t.type, std::string(t.text, t.len));
    EXPECT_EQ(t.type, T::kEnd);
    return out;
}

// Tokens other than blanks, as "B:数据 W:PostgreSQL".
std::string Words(const std::string& s) {
    std::string out;
    for (const auto& [type, text] : Tokens(s)) {
        if (type == T::kBlank)
            continue;
        if (!out.empty())
            out += ' ';
        out += Tag(type) + ":" + text;
    }
    return out;
}

// Every token, blanks included, as "B:数据|_: |W:x".
std::string All(const std::string& s) {
    std::string out;
    for (const auto& [type, text] : Tokens(s)) {
        if (!out.empty())
            out += '|';
        out += Tag(type) + ":" + text;
    }
    return out;
}

// The text rebuilt the way the headline does: a bigram that follows a bigram adds
// only its last character.
std::string Rebuild(const std::string& s) {
    std::string out;
    T prev = T::kEnd;
    for (const auto& [type, text] : Tokens(s)) {
        if (type == T::kCjkBigram && prev == T::kCjkBigram) {
            size_t first = keel::core::CjkFirstUnitLength(text.data(), text.size());
            out += text.substr(first);
        } else {
            out += text;
        }
        prev = type;
    }
    return out;
}

}  // namespace

TEST(CjkTokenizer, EmptyAndNull) {
    EXPECT_TRUE(Tokens("").empty());
    CjkTokenizer tok(nullptr, 0);
    CjkToken t;
    EXPECT_FALSE(tok.Next(&t));
    EXPECT_FALSE(tok.Next(&t));  // stays at the end
    EXPECT_EQ(t.type, T::kEnd);
}

TEST(CjkTokenizer, ChineseSentenceGivesOverlappingBigrams) {
    EXPECT_EQ(Words("我们的数据库很快"), "B:我们 B:们的 B:的数 B:数据 B:据库 B:库很 B:很快");
}

TEST(CjkTokenizer, SingleCharacterRunIsAUnigram) {
    EXPECT_EQ(Words("库"), "U:库");
    EXPECT_EQ(Words("a 库 b"), "W:a U:库 W:b");
    EXPECT_EQ(Words("用Postgres存储"), "U:用 W:Postgres B:存储");
}

TEST(CjkTokenizer, MixedChineseAndEnglish) {
    EXPECT_EQ(All("PostgreSQL数据库, v15 2024年"),
              "W:PostgreSQL|B:数据|B:据库|_:, |W:v15|_: |N:2024|U:年");
    EXPECT_EQ(Words("iPhone15手机"), "W:iPhone15 B:手机");
    EXPECT_EQ(Words("gpt-4o 的 API"), "W:gpt W:4o U:的 W:API");
}

TEST(CjkTokenizer, ChinesePunctuationSeparates) {
    EXPECT_EQ(All("你好，世界。"), "B:你好|_:，|B:世界|_:。");
    EXPECT_EQ(Words("《数据库》「设计」【说明】、；：！？……——“引号”"),
              "B:数据 B:据库 B:设计 B:说明 B:引号");
    EXPECT_EQ(Words("中文\u3000全角空格"), "B:中文 B:全角 B:角空 B:空格");
}

TEST(CjkTokenizer, WhitespaceRunsAreOneBlank) {
    EXPECT_EQ(All("a \t\r\n b"), "W:a|_: \t\r\n |W:b");
    EXPECT_EQ(All("  "), "_:  ");
}

TEST(CjkTokenizer, Japanese) {
    // Kanji and Kana form one run, so words that mix them are found.
    EXPECT_EQ(Words("東京に行きます"), "B:東京 B:京に B:に行 B:行き B:きま B:ます");
    EXPECT_EQ(Words("データベース・サーバー"),
              "B:デー B:ータ B:タベ B:ベー B:ース B:サー B:ーバ B:バー");
    EXPECT_EQ(Words("ｶﾀｶﾅ"), "B:ｶﾀ B:ﾀｶ B:ｶﾅ");  // half-width Katakana
    EXPECT_EQ(Words("々"), "U:々");
}

TEST(CjkTokenizer, Korean) {
    EXPECT_EQ(Words("데이터베이스는 빠르다"),
              "B:데이 B:이터 B:터베 B:베이 B:이스 B:스는 B:빠르 B:르다");
}

TEST(CjkTokenizer, HanExtensionBlocks) {
    // U+20BB7 (Ext B), U+3400 (Ext A), U+2A700 (Ext C), U+31350 (Ext H), U+F900 (compat)
    EXPECT_EQ(Words("\U00020BB7\u3400"), "B:\U00020BB7\u3400");
    EXPECT_EQ(Words("\U0002A700\U00031350\uF900"), "B:\U0002A700\U00031350 B:\U00031350\uF900");
    EXPECT_EQ(ClassifyCodePoint(0x2EBF0), CjkCharClass::kCjk);  // Ext I
}

TEST(CjkTokenizer, EmojiSeparate) {
    EXPECT_EQ(All("好😀吃"), "U:好|_:😀|U:吃");
    // A ZWJ family and a flag with tags are one blank, whole.
    EXPECT_EQ(All("a👨\u200D👩\u200D👧b"), "W:a|_:👨\u200D👩\u200D👧|W:b");
    EXPECT_EQ(All("中🏴\U000E0067\U000E0062\U000E007F文"),
              "U:中|_:🏴\U000E0067\U000E0062\U000E007F|U:文");
    EXPECT_EQ(All("ok👍🏽"), "W:ok|_:👍🏽");
}

TEST(CjkTokenizer, FullWidthForms) {
    EXPECT_EQ(Words("Ｐｏｓｔｇｒｅｓ１５版"), "W:Ｐｏｓｔｇｒｅｓ１５ U:版");
    EXPECT_EQ(Words("１２３"), "N:１２３");
    EXPECT_EQ(All("（注）"), "_:（|U:注|_:）");
    EXPECT_EQ(All("Ａ＋Ｂ"), "W:Ａ|_:＋|W:Ｂ");
}

TEST(CjkTokenizer, OtherAlphabetsAreWords) {
    EXPECT_EQ(Words("Ünïcödé naïve Москва αβγ"), "W:Ünïcödé W:naïve W:Москва W:αβγ");
    // A combining mark stays with its letter (e + U+0301).
    EXPECT_EQ(Words("cafe\u0301!"), "W:cafe\u0301");
    // A variation selector stays with its ideograph.
    EXPECT_EQ(Words("葛\U000E0100城"), "B:葛\U000E0100城");
    EXPECT_EQ(Words("葛\uFE00"), "U:葛\uFE00");
}

TEST(CjkTokenizer, MarkWithNothingToAttachToIsBlank) {
    EXPECT_EQ(All("\u0301a"), "_:\u0301|W:a");
    EXPECT_EQ(All(" \u0301"), "_: \u0301");
}

TEST(CjkTokenizer, InvalidUtf8IsSafe) {
    // Lone continuation, overlong, surrogate, past U+10FFFF, truncated at the end.
    const std::string bad[] = {
        "\x80",     "\xC0\xAF",     "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80",
        "\xE4\xB8", "\xF0\x9F\x98", "\xFF"};
    for (const std::string& b : bad) {
        EXPECT_EQ(Words("数据" + b + "库"), "B:数据 U:库") << "bytes of length " << b.size();
        EXPECT_EQ(Words("ab" + b), "W:ab");
        std::string all;
        for (const auto& [type, text] : Tokens(b)) {
            EXPECT_EQ(type, T::kBlank);
            all += text;
        }
        EXPECT_EQ(all, b);
    }
    // A truncated sequence does not swallow the ASCII after it.
    EXPECT_EQ(Words("\xE4\xB8x"), "W:x");
}

TEST(CjkTokenizer, DecoderNeverReadsPastTheEnd) {
    // Each lead byte at the very end of a buffer (vector: ASan sees a read past it).
    for (int b = 0x80; b <= 0xFF; ++b) {
        std::vector<unsigned char> one{static_cast<unsigned char>(b)};
        char32_t cp = 0;
        EXPECT_EQ(DecodeUtf8(one.data(), one.data() + 1, &cp), 1u);
        EXPECT_EQ(cp, kInvalidCodePoint);
    }
    std::vector<unsigned char> four{0xF0, 0x9F, 0x98, 0x80};
    char32_t cp = 0;
    EXPECT_EQ(DecodeUtf8(four.data(), four.data() + 4, &cp), 4u);
    EXPECT_EQ(cp, 0x1F600u);
    EXPECT_EQ(DecodeUtf8(four.data(), four.data() + 3, &cp), 1u);
    EXPECT_EQ(cp, kInvalidCodePoint);
}

TEST(CjkTokenizer, DecoderBoundaries) {
    auto decode = [](const std::string& s) {
        char32_t cp = 0;
        const auto* p = reinterpret_cast<const unsigned char*>(s.data());
        size_t n = DecodeUtf8(p, p + s.size(), &cp);
        return std::make_pair(n, cp);
    };
    EXPECT_EQ(decode("\x7F"), std::make_pair(size_t{1}, char32_t{0x7F}));
    EXPECT_EQ(decode("\xC2\x80"), std::make_pair(size_t{2}, char32_t{0x80}));
    EXPECT_EQ(decode("\xDF\xBF"), std::make_pair(size_t{2}, char32_t{0x7FF}));
    EXPECT_EQ(decode("\xE0\xA0\x80"), std::make_pair(size_t{3}, char32_t{0x800}));
    EXPECT_EQ(decode("\xED\x9F\xBF"), std::make_pair(size_t{3}, char32_t{0xD7FF}));
    EXPECT_EQ(decode("\xEE\x80\x80"), std::make_pair(size_t{3}, char32_t{0xE000}));
    EXPECT_EQ(decode("\xF0\x90\x80\x80"), std::make_pair(size_t{4}, char32_t{0x10000}));
    EXPECT_EQ(decode("\xF4\x8F\xBF\xBF"), std::make_pair(size_t{4}, char32_t{0x10FFFF}));
    EXPECT_EQ(decode("\xE0\x9F\xBF").second, kInvalidCodePoint);      // overlong
    EXPECT_EQ(decode("\xF0\x8F\xBF\xBF").second, kInvalidCodePoint);  // overlong
    EXPECT_EQ(decode("\xC1\xBF").second, kInvalidCodePoint);          // overlong
}

TEST(CjkTokenizer, NumbersAndWords) {
    EXPECT_EQ(Words("2024 3.14 1,000 abc123 123abc"),
              "N:2024 N:3 N:14 N:1 N:000 W:abc123 W:123abc");
    EXPECT_EQ(Words("user_id e-mail don't"), "W:user W:id W:e W:mail W:don W:t");
}

TEST(CjkTokenizer, LongWordsComeInUnindexedPieces) {
    std::string word(5000, 'x');
    auto toks = Tokens("a " + word + " b");
    ASSERT_EQ(toks.size(), 7u);
    EXPECT_EQ(toks[0].second, "a");
    EXPECT_EQ(toks[2].first, T::kLongWord);
    EXPECT_EQ(toks[2].second.size(), kMaxTokenBytes);
    EXPECT_EQ(toks[3].first, T::kLongWord);
    EXPECT_EQ(toks[4].first, T::kLongWord);
    EXPECT_EQ(toks[2].second.size() + toks[3].second.size() + toks[4].second.size(), 5000u);
    EXPECT_EQ(toks[6].second, "b");

    // Pieces end on character boundaries.
    std::string accents;
    for (int i = 0; i < 1500; ++i)
        accents += "é";  // 3000 bytes
    for (const auto& [type, text] : Tokens(accents)) {
        EXPECT_EQ(type, T::kLongWord);
        EXPECT_LE(text.size(), kMaxTokenBytes);
        EXPECT_EQ(text.size() % 2, 0u);
    }
    // Exactly at the limit is still a word.
    EXPECT_EQ(Tokens(std::string(kMaxTokenBytes, 'y'))[0].first, T::kWord);
}

TEST(CjkTokenizer, LongBlankRunsAreCut) {
    std::string spaces(4500, ' ');
    auto toks = Tokens(spaces + "z");
    size_t total = 0;
    for (size_t i = 0; i + 1 < toks.size(); ++i) {
        EXPECT_EQ(toks[i].first, T::kBlank);
        EXPECT_LE(toks[i].second.size(), kMaxTokenBytes);
        total += toks[i].second.size();
    }
    EXPECT_EQ(total, 4500u);
    EXPECT_EQ(toks.back().second, "z");
    std::string marks;
    for (int i = 0; i < 1000; ++i)
        marks += "。";
    for (const auto& [type, text] : Tokens(marks))
        EXPECT_LE(text.size(), kMaxTokenBytes);
}

TEST(CjkTokenizer, LongChineseRunIsAllBigrams) {
    std::string run;
    for (int i = 0; i < 10000; ++i)
        run += (i % 2) ? "数" : "据";
    auto toks = Tokens(run);
    ASSERT_EQ(toks.size(), 9999u);
    for (const auto& [type, text] : toks)
        EXPECT_EQ(type, T::kCjkBigram);
}

TEST(CjkTokenizer, TokensRebuildTheText) {
    const std::string texts[] = {
        "我们的数据库很快。PostgreSQL 15 支持全文检索！",
        "東京に行きます、データベース",
        "  leading and trailing  ",
        "葛\U000E0100城 cafe\u0301 😀 \xFF\xFE 中",
        "a",
        "中",
    };
    for (const std::string& t : texts)
        EXPECT_EQ(Rebuild(t), t);
}

TEST(CjkTokenizer, ClassOfCommonCharacters) {
    EXPECT_EQ(ClassifyCodePoint(U'中'), CjkCharClass::kCjk);
    EXPECT_EQ(ClassifyCodePoint(U'。'), CjkCharClass::kSeparator);
    EXPECT_EQ(ClassifyCodePoint(U'，'), CjkCharClass::kSeparator);
    EXPECT_EQ(ClassifyCodePoint(U'ー'), CjkCharClass::kCjk);
    EXPECT_EQ(ClassifyCodePoint(U'・'), CjkCharClass::kSeparator);
    EXPECT_EQ(ClassifyCodePoint(U'한'), CjkCharClass::kCjk);
    EXPECT_EQ(ClassifyCodePoint(U'é'), CjkCharClass::kLetter);
    EXPECT_EQ(ClassifyCodePoint(U'５'), CjkCharClass::kDigit);
    EXPECT_EQ(ClassifyCodePoint(0xFFFD), CjkCharClass::kSeparator);
    EXPECT_EQ(ClassifyCodePoint(0x10FFFF), CjkCharClass::kSeparator);
    EXPECT_EQ(ClassifyCodePoint(kInvalidCodePoint), CjkCharClass::kSeparator);
}

// ---------------------------------------------------------------- headline selection

namespace {

// 'w' word, 'M' matched word, ' ' blank; returns the shown tokens as the same letters.
std::string Select(const std::string& shape, HeadlineOptions opt) {
    std::vector<HeadlineToken> toks;
    for (char c : shape)
        toks.push_back(HeadlineToken{c != ' ', c == 'M'});
    std::unique_ptr<bool[]> in(new bool[toks.size() + 1]);
    SelectHeadline(toks.data(), toks.size(), opt, in.get());
    std::string out;
    for (size_t i = 0; i < toks.size(); ++i)
        out += in[i] ? shape[i] : '.';
    return out;
}

}  // namespace

TEST(CjkHeadline, CentresOneFragmentOnTheMatches) {
    HeadlineOptions opt;
    opt.max_words = 5;
    opt.min_words = 2;
    EXPECT_EQ(Select("w w w w w w M w w w w w w", opt), "........w w M w w........");
    EXPECT_EQ(Select("M w w w w w w w", opt), "M w w w w......");
    EXPECT_EQ(Select("w w w w w w w M", opt), "......w w w w M");
}

TEST(CjkHeadline, PicksTheDensestWindow) {
    HeadlineOptions opt;
    opt.max_words = 4;
    opt.min_words = 1;
    EXPECT_EQ(Select("M w w w w w w M M w", opt), "............w M M w");
}

TEST(CjkHeadline, NoMatchShowsTheFirstMinWords) {
    HeadlineOptions opt;
    opt.max_words = 10;
    opt.min_words = 3;
    EXPECT_EQ(Select(" w w w w w", opt), ".w w w....");
    EXPECT_EQ(Select("", opt), "");
}

TEST(CjkHeadline, Fragments) {
    HeadlineOptions opt;
    opt.max_words = 3;
    opt.min_words = 1;
    opt.max_fragments = 2;
    EXPECT_EQ(Select("w w M w w w w w w w M w w", opt), "..w M w...........w M w..");
    opt.max_fragments = 1;
    EXPECT_EQ(Select("w w M w w w w w w w M M w", opt), std::string(20, '.') + "M M w");
}

TEST(CjkHeadline, HighlightAllShowsEverything) {
    HeadlineOptions opt;
    opt.highlight_all = true;
    EXPECT_EQ(Select(" w M w ", opt), " w M w ");
}
