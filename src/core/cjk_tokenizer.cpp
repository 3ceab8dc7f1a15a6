#include "core/cjk_tokenizer.hpp"

#include <algorithm>

namespace keel::core {
namespace {

using C = CjkCharClass;

// ASCII: digits, letters, and everything else separates.
constexpr C AsciiClass(unsigned char b) {
    if (b >= '0' && b <= '9')
        return C::kDigit;
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z'))
        return C::kLetter;
    return C::kSeparator;
}

struct AsciiTable {
    C cls[128];
    constexpr AsciiTable() : cls() {
        for (int b = 0; b < 128; ++b)
            cls[b] = AsciiClass(static_cast<unsigned char>(b));
    }
};
constexpr AsciiTable kAscii{};

// Non-ASCII ranges that are not letters, sorted; a code point in no range is a letter
// (so any alphabetic script not listed here forms words).
struct Range {
    char32_t lo;
    char32_t hi;
    C cls;
};

constexpr Range kRanges[] = {
    {0x0080, 0x00A9, C::kSeparator},  // C1 controls, NBSP, ¡¢£¤¥¦§¨©
    {0x00AB, 0x00B4, C::kSeparator},  // «¬ SHY ®¯°±²³´
    {0x00B6, 0x00B9, C::kSeparator},  // ¶·¸¹
    {0x00BB, 0x00BF, C::kSeparator},  // »¼½¾¿
    {0x00D7, 0x00D7, C::kSeparator},  // ×
    {0x00F7, 0x00F7, C::kSeparator},  // ÷
    {0x0300, 0x036F, C::kExtend},     // combining diacritical marks
    {0x037E, 0x037E, C::kSeparator},  // Greek question mark
    {0x0387, 0x0387, C::kSeparator},  // Greek ano teleia
    {0x0483, 0x0489, C::kExtend},     // Cyrillic combining marks
    {0x055A, 0x055F, C::kSeparator},  // Armenian punctuation
    {0x0589, 0x058A, C::kSeparator},    {0x0591, 0x05BD, C::kExtend},  // Hebrew points
    {0x05BE, 0x05BE, C::kSeparator},                                   // maqaf
    {0x05C0, 0x05C0, C::kSeparator},    {0x05C3, 0x05C3, C::kSeparator},
    {0x060C, 0x060D, C::kSeparator},  // Arabic comma
    {0x061B, 0x061B, C::kSeparator},    {0x061F, 0x061F, C::kSeparator},
    {0x064B, 0x065F, C::kExtend},  // Arabic marks
    {0x066A, 0x066D, C::kSeparator},    {0x06D4, 0x06D4, C::kSeparator},
    {0x0964, 0x0965, C::kSeparator},  // Devanagari danda
    {0x0E3F, 0x0E3F, C::kSeparator},  // Thai baht
    {0x1100, 0x11FF, C::kCjk},        // Hangul Jamo
    {0x1AB0, 0x1AFF, C::kExtend},     // combining diacritical marks extended
    {0x1DC0, 0x1DFF, C::kExtend},     // combining diacritical marks supplement
    {0x2000, 0x200B, C::kSeparator},  // spaces, zero width space
    {0x200C, 0x200D, C::kExtend},     // ZWNJ, ZWJ
    {0x200E, 0x20CF, C::kSeparator},  // marks, general punctuation, super/subscripts, currency
    {0x20D0, 0x20FF, C::kExtend},     // combining marks for symbols
    {0x2100, 0x2BFF, C::kSeparator},  // letterlike, number forms, arrows, math, shapes, dingbats
    {0x2E00, 0x2E7F, C::kSeparator},  // supplemental punctuation
    {0x2E80, 0x2FDF, C::kCjk},        // CJK radicals supplement, Kangxi radicals
    {0x2FF0, 0x3004, C::kSeparator},  // ideographic description, ideographic space, 、。〃〄
    {0x3005, 0x3007, C::kCjk},        // 々〆〇
    {0x3008, 0x3020, C::kSeparator},  // 〈〉《》「」『』【】〒〓〔〕〖〗〘〙〚〛〜〝〞〟〠
    {0x3021, 0x3029, C::kCjk},        // Hangzhou numerals
    {0x302A, 0x302F, C::kExtend},     // ideographic and Hangul tone marks
    {0x3030, 0x3030, C::kSeparator},  // wavy dash
    {0x3031, 0x3035, C::kCjk},        // kana repeat marks
    {0x3036, 0x3037, C::kSeparator},    {0x3038, 0x303C, C::kCjk},  // 〸〹〺〻〼
    {0x303D, 0x303F, C::kSeparator},    {0x3040, 0x3098, C::kCjk},  // Hiragana
    {0x3099, 0x309A, C::kExtend},                                   // combining voiced sound marks
    {0x309B, 0x309F, C::kCjk},          {0x30A0, 0x30A0, C::kSeparator},  // ゠
    {0x30A1, 0x30FA, C::kCjk},                                            // Katakana
    {0x30FB, 0x30FB, C::kSeparator},                                      // ・ katakana middle dot
    {0x30FC, 0x30FF, C::kCjk},                                            // ー ヽヾヿ
    {0x3100, 0x318F, C::kCjk},        // Bopomofo, Hangul compatibility Jamo
    {0x3190, 0x319F, C::kSeparator},  // Kanbun
    {0x31A0, 0x31BF, C::kCjk},        // Bopomofo extended
    {0x31C0, 0x31EF, C::kSeparator},  // CJK strokes
    {0x31F0, 0x31FF, C::kCjk},        // Katakana phonetic extensions
    {0x3200, 0x33FF, C::kSeparator},  // enclosed CJK letters, CJK compatibility (㈱ ㎡)
    {0x3400, 0x4DBF, C::kCjk},        // CJK extension A
    {0x4DC0, 0x4DFF, C::kSeparator},  // Yijing hexagrams
    {0x4E00, 0x9FFF, C::kCjk},        // CJK unified ideographs
    {0xA960, 0xA97F, C::kCjk},        // Hangul Jamo extended A
    {0xAC00, 0xD7FF, C::kCjk},        // Hangul syllables, Jamo extended B
    {0xE000, 0xF8FF, C::kSeparator},  // private use
    {0xF900, 0xFAFF, C::kCjk},        // CJK compatibility ideographs
    {0xFD3E, 0xFD3F, C::kSeparator},  // ornate parentheses
    {0xFE00, 0xFE0F, C::kExtend},     // variation selectors
    {0xFE10, 0xFE1F, C::kSeparator},  // vertical forms
    {0xFE20, 0xFE2F, C::kExtend},     // combining half marks
    {0xFE30, 0xFE6F, C::kSeparator},  // CJK compatibility forms, small form variants
    {0xFEFF, 0xFF0F, C::kSeparator},  // BOM, full-width ！＂＃＄％＆＇（）＊＋，－．／
    {0xFF10, 0xFF19, C::kDigit},      // full-width digits
    {0xFF1A, 0xFF20, C::kSeparator},     // ：；＜＝＞？＠
    {0xFF3B, 0xFF40, C::kSeparator},     // ［＼］＾＿｀
    {0xFF5B, 0xFF65, C::kSeparator},     // ｛｜｝～｟｠｡｢｣､･
    {0xFF66, 0xFFDC, C::kCjk},           // half-width Katakana and Hangul
    {0xFFE0, 0xFFFF, C::kSeparator},     // full-width signs, specials, U+FFFD
    {0x1B000, 0x1B16F, C::kCjk},         // Kana supplement, extended A, small Kana extension
    {0x1D000, 0x1D24F, C::kSeparator},   // musical symbols
    {0x1F000, 0x1FBFF, C::kSeparator},   // emoji, pictographs, enclosed supplements
    {0x20000, 0x323AF, C::kCjk},         // CJK extensions B-I, compatibility supplement
    {0xE0000, 0xE007F, C::kSeparator},   // tags
    {0xE0100, 0xE01EF, C::kExtend},      // variation selectors supplement
    {0xF0000, 0x10FFFF, C::kSeparator},  // private use planes
};

constexpr bool RangesSorted() {
    for (size_t i = 1; i < sizeof(kRanges) / sizeof(kRanges[0]); ++i) {
        if (kRanges[i].lo <= kRanges[i - 1].hi || kRanges[i].lo > kRanges[i].hi)
            return false;
    }
    return true;
}
static_assert(RangesSorted(), "kRanges must be sorted and disjoint");

inline bool IsCont(unsigned char b) {
    return (b & 0xC0) == 0x80;
}

}  // namespace

size_t DecodeUtf8(const unsigned char* p, const unsigned char* end, char32_t* cp) noexcept {
    const unsigned char b0 = p[0];
    const size_t avail = static_cast<size_t>(end - p);
    if (b0 < 0x80) {
        *cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (avail >= 2 && IsCont(p[1])) {
            *cp = (char32_t(b0 & 0x1F) << 6) | (p[1] & 0x3F);
            return 2;
        }
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (avail >= 3 && IsCont(p[1]) && IsCont(p[2])) {
            // E0 needs A0..BF (no overlongs); ED needs 80..9F (no surrogates).
            if ((b0 != 0xE0 || p[1] >= 0xA0) && (b0 != 0xED || p[1] <= 0x9F)) {
                *cp = (char32_t(b0 & 0x0F) << 12) | (char32_t(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
                return 3;
            }
        }
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (avail >= 4 && IsCont(p[1]) && IsCont(p[2]) && IsCont(p[3])) {
            // F0 needs 90..BF (no overlongs); F4 needs 80..8F (nothing past U+10FFFF).
            if ((b0 != 0xF0 || p[1] >= 0x90) && (b0 != 0xF4 || p[1] <= 0x8F)) {
                *cp = (char32_t(b0 & 0x07) << 18) | (char32_t(p[1] & 0x3F) << 12) |
                      (char32_t(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
                return 4;
            }
        }
    }
    *cp = kInvalidCodePoint;
    return 1;
}

CjkCharClass ClassifyCodePoint(char32_t cp) noexcept {
    if (cp < 0x80)
        return kAscii.cls[cp];
    if (cp >= 0x4E00 && cp <= 0x9FFF)
        return C::kCjk;  // the common case first
    if (cp == kInvalidCodePoint)
        return C::kSeparator;
    const Range* first = kRanges;
    const Range* last = kRanges + sizeof(kRanges) / sizeof(kRanges[0]);
    const Range* it =
        std::upper_bound(first, last, cp, [](char32_t v, const Range& r) { return v < r.lo; });
    if (it != first && cp <= (it - 1)->hi)
        return (it - 1)->cls;
    return C::kLetter;
}

inline CjkTokenizer::Char CjkTokenizer::Peek(const unsigned char* p) const noexcept {
    const unsigned char b = *p;
    if (b < 0x80)
        return Char{p + 1, kAscii.cls[b]};
    char32_t cp;
    const size_t n = DecodeUtf8(p, end_, &cp);
    return Char{p + n, ClassifyCodePoint(cp)};
}

inline const unsigned char* CjkTokenizer::SkipExtends(const unsigned char* p,
                                                      Char* next) const noexcept {
    while (p < end_) {
        Char c = Peek(p);
        if (c.cls != C::kExtend) {
            *next = c;
            return p;
        }
        p = c.end;
    }
    *next = Char{};
    return p;
}

// The last character boundary in (from, to] that keeps [from, boundary) within
// kMaxTokenBytes; always past at least one character.
const unsigned char* CjkTokenizer::CutAt(const unsigned char* from,
                                         const unsigned char* to) const noexcept {
    if (static_cast<size_t>(to - from) <= kMaxTokenBytes)
        return to;
    const unsigned char* p = Peek(from).end;
    while (p < to) {
        const unsigned char* next = Peek(p).end;
        if (static_cast<size_t>(next - from) > kMaxTokenBytes)
            break;
        p = next;
    }
    return p;
}

inline void CjkTokenizer::Emit(CjkToken* out, CjkTokenType type, const unsigned char* from,
                               const unsigned char* to) noexcept {
    out->type = type;
    out->text = reinterpret_cast<const char*>(from);
    out->len = static_cast<size_t>(to - from);
}

void CjkTokenizer::Reset(const char* data, size_t len) noexcept {
    begin_ = reinterpret_cast<const unsigned char*>(data);
    end_ = begin_ + (data != nullptr ? len : 0);
    cursor_ = begin_;
    run_unit_ = nullptr;
    long_end_ = nullptr;
    next_valid_ = false;
}

bool CjkTokenizer::Next(CjkToken* out) noexcept {
    if (cursor_ >= end_) {
        Emit(out, CjkTokenType::kEnd, end_, end_);
        return false;
    }

    // The rest of an over-long word, piece by piece.
    if (long_end_ != nullptr) {
        const unsigned char* to = CutAt(cursor_, long_end_);
        Emit(out, CjkTokenType::kLongWord, cursor_, to);
        cursor_ = to;
        if (cursor_ >= long_end_)
            long_end_ = nullptr;
        next_valid_ = false;
        return true;
    }

    const unsigned char* start = cursor_;
    const Char c = next_valid_ ? next_ : Peek(start);
    next_valid_ = false;

    // Inside a CJK run: the next bigram is the last unit plus the next one.
    if (run_unit_ != nullptr) {
        if (c.cls == C::kCjk) {
            Char after;
            const unsigned char* unit_end = SkipExtends(c.end, &after);
            Emit(out, CjkTokenType::kCjkBigram, run_unit_, unit_end);
            run_unit_ = start;
            cursor_ = unit_end;
            Remember(after);
            return true;
        }
        run_unit_ = nullptr;
    }

    switch (c.cls) {
        case C::kCjk: {
            Char after;
            const unsigned char* first_end = SkipExtends(c.end, &after);
            if (after.end != nullptr && after.cls == C::kCjk) {
                Char after2;
                const unsigned char* second_end = SkipExtends(after.end, &after2);
                Emit(out, CjkTokenType::kCjkBigram, start, second_end);
                run_unit_ = first_end;
                cursor_ = second_end;
                Remember(after2);
                return true;
            }
            Emit(out, CjkTokenType::kCjkUnigram, start, first_end);
            cursor_ = first_end;
            Remember(after);
            return true;
        }
        case C::kLetter:
        case C::kDigit: {
            bool letters = c.cls == C::kLetter;
            const unsigned char* p = c.end;
            Char stop;
            while (p < end_) {
                const unsigned char b = *p;
                if (b < 0x80) {  // the ASCII inner loop: no decoding
                    const C cls = kAscii.cls[b];
                    if (cls == C::kSeparator)
                        break;
                    letters |= cls == C::kLetter;
                    ++p;
                    continue;
                }
                Char d = Peek(p);
                if (d.cls == C::kLetter) {
                    letters = true;
                } else if (d.cls != C::kDigit && d.cls != C::kExtend) {
                    stop = d;
                    break;
                }
                p = d.end;
            }
            if (static_cast<size_t>(p - start) <= kMaxTokenBytes) {
                Emit(out, letters ? CjkTokenType::kWord : CjkTokenType::kNumber, start, p);
                cursor_ = p;
                Remember(stop);
                return true;
            }
            const unsigned char* to = CutAt(start, p);
            Emit(out, CjkTokenType::kLongWord, start, to);
            cursor_ = to;
            long_end_ = p;
            return true;
        }
        case C::kSeparator:
        case C::kExtend:
            break;
    }

    // Separators (and marks with nothing to attach to), up to the length limit.
    const unsigned char* p = c.end;
    Char stop;
    while (p < end_) {
        const unsigned char b = *p;
        if (b < 0x80) {
            if (kAscii.cls[b] != C::kSeparator ||
                static_cast<size_t>(p + 1 - start) > kMaxTokenBytes) {
                break;
            }
            ++p;
            continue;
        }
        Char d = Peek(p);
        if ((d.cls != C::kSeparator && d.cls != C::kExtend) ||
            static_cast<size_t>(d.end - start) > kMaxTokenBytes) {
            stop = d;
            break;
        }
        p = d.end;
    }
    Emit(out, CjkTokenType::kBlank, start, p);
    cursor_ = p;
    Remember(stop);
    return true;
}

size_t CjkFirstUnitLength(const char* s, size_t len) noexcept {
    if (len == 0)
        return 0;
    const auto* p = reinterpret_cast<const unsigned char*>(s);
    const unsigned char* end = p + len;
    char32_t cp;
    const unsigned char* q = p + DecodeUtf8(p, end, &cp);
    while (q < end) {
        const size_t n = DecodeUtf8(q, end, &cp);
        if (ClassifyCodePoint(cp) != C::kExtend)
            break;
        q += n;
    }
    return static_cast<size_t>(q - p);
}

// ---------------------------------------------------------------- headline selection

namespace {

// Grows [*lo, *hi] by up to `words` word tokens to the left (stopping at tokens that
// are already shown); returns how many it could not take.
int ExpandLeft(const HeadlineToken* tokens, const bool* in, size_t* lo, int words) {
    while (words > 0 && *lo > 0 && !in[*lo - 1]) {
        --*lo;
        if (tokens[*lo].is_word)
            --words;
    }
    return words;
}

int ExpandRight(const HeadlineToken* tokens, size_t n, const bool* in, size_t* hi, int words) {
    while (words > 0 && *hi + 1 < n && !in[*hi + 1]) {
        ++*hi;
        if (tokens[*hi].is_word)
            --words;
    }
    return words;
}

void MarkTrimmed(const HeadlineToken* tokens, size_t lo, size_t hi, bool* in) {
    while (lo < hi && !tokens[lo].is_word)
        ++lo;
    while (hi > lo && !tokens[hi].is_word)
        --hi;
    for (size_t i = lo; i <= hi; ++i)
        in[i] = true;
}

// The best fragment of at most max_words words among the tokens not shown yet:
// the window with the most matches (the earliest on ties), re-centred on them.
bool PickFragment(const HeadlineToken* tokens, size_t n, int max_words, bool* in) {
    int best = 0;
    size_t best_l = 0, best_r = 0;
    size_t l = 0;
    int words = 0, matches = 0;
    for (size_t r = 0; r < n; ++r) {
        if (in[r]) {
            l = r + 1;
            words = matches = 0;
            continue;
        }
        if (tokens[r].is_word) {
            ++words;
            if (tokens[r].matched)
                ++matches;
        }
        while (words > max_words) {
            if (tokens[l].is_word) {
                --words;
                if (tokens[l].matched)
                    --matches;
            }
            ++l;
        }
        if (matches > best) {
            best = matches;
            best_l = l;
            best_r = r;
        }
    }
    if (best == 0)
        return false;

    size_t m1 = best_l, m2 = best_r;
    while (!(tokens[m1].is_word && tokens[m1].matched))
        ++m1;
    while (!(tokens[m2].is_word && tokens[m2].matched))
        --m2;
    int span = 0;
    for (size_t i = m1; i <= m2; ++i)
        span += tokens[i].is_word ? 1 : 0;
    int budget = std::max(0, max_words - span);
    size_t lo = m1, hi = m2;
    int left_over = ExpandLeft(tokens, in, &lo, budget / 2);
    left_over = ExpandRight(tokens, n, in, &hi, budget - budget / 2 + left_over);
    ExpandLeft(tokens, in, &lo, left_over);
    MarkTrimmed(tokens, lo, hi, in);
    return true;
}

}  // namespace

void SelectHeadline(const HeadlineToken* tokens, size_t n, const HeadlineOptions& options,
                    bool* in) noexcept {
    for (size_t i = 0; i < n; ++i)
        in[i] = options.highlight_all;
    if (n == 0 || options.highlight_all)
        return;

    const int max_words = std::max(1, options.max_words);
    const int min_words = std::max(1, std::min(options.min_words, max_words));
    const int fragments = options.max_fragments > 0 ? options.max_fragments : 1;
    int made = 0;
    while (made < fragments && PickFragment(tokens, n, max_words, in))
        ++made;
    if (made > 0)
        return;

    // Nothing matched: the first min_words words.
    size_t hi = 0;
    int words = 0;
    for (size_t i = 0; i < n; ++i) {
        if (tokens[i].is_word && ++words > min_words)
            break;
        hi = i;
    }
    MarkTrimmed(tokens, 0, hi, in);
}

}  // namespace keel::core
