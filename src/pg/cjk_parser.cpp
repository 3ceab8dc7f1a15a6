// keel.cjk_parser: the text search parser behind keel.create_cjk_config().
//
// The five parser methods PostgreSQL calls (CREATE TEXT SEARCH PARSER in
// src/sql/keel/400_cjk_search.sql).  The tokenizing is the pure core's
// (src/core/cjk_tokenizer.hpp); this file only moves pointers across:
//
//   prsstart    the tokenizer, placed in palloc'd memory (it owns nothing)
//   prstoken    one token per call: pointer, length and type; no copy, no allocation
//   prsend      frees the tokenizer
//   prslextype  the token types a configuration maps (aliases are stable names)
//   prsheadline picks the fragments for ts_headline, then undoes the bigram overlap
//               so the text reads as written ("数据", "据库" show as "数据库")
#include "bridge/guard.hpp"
#include "core/limits.hpp"
#include "core/cjk_tokenizer.hpp"

#include <new>
#include <type_traits>

extern "C" {
#include "commands/defrem.h"
#include "mb/pg_wchar.h"
#include "nodes/pg_list.h"
#include "tsearch/ts_public.h"
#include "tsearch/ts_type.h"
}

namespace keel::pg {
namespace {

using core::CjkTokenType;

static_assert(std::is_trivially_destructible_v<core::CjkTokenizer> &&
                  std::is_trivially_copyable_v<core::CjkTokenizer>,
              "the tokenizer lives in palloc'd memory and is freed with pfree");

struct LexType {
    CjkTokenType type;
    const char* alias;
    const char* description;
};

// Aliases are what ALTER TEXT SEARCH CONFIGURATION ... MAPPING FOR names: never rename.
constexpr LexType kLexTypes[] = {
    {CjkTokenType::kWord, "word",
     "Word, letters and digits (Latin, Greek, Cyrillic, full-width, ...)"},
    {CjkTokenType::kNumber, "number", "Number, digits only"},
    {CjkTokenType::kCjkBigram, "cjk_bigram", "Two adjacent Han, Kana or Hangul characters"},
    {CjkTokenType::kCjkUnigram, "cjk_unigram", "A Han, Kana or Hangul character standing alone"},
    {CjkTokenType::kLongWord, "long_word", "Piece of a word too long to index"},
    {CjkTokenType::kBlank, "blank", "Space, punctuation, symbols and emoji"},
};
static_assert(sizeof(kLexTypes) / sizeof(kLexTypes[0]) == core::kCjkTokenTypeCount);

bool IsTrue(const char* v) {
    return pg_strcasecmp(v, "1") == 0 || pg_strcasecmp(v, "on") == 0 ||
           pg_strcasecmp(v, "true") == 0 || pg_strcasecmp(v, "t") == 0 ||
           pg_strcasecmp(v, "y") == 0 || pg_strcasecmp(v, "yes") == 0;
}

// ts_headline's options, as the built-in parser accepts them (ShortWord is accepted
// and checked; a bigram has no length to judge, so it changes nothing here).
core::HeadlineOptions ReadOptions(HeadlineParsedText* prs, List* options) {
    core::HeadlineOptions opt;
    int short_word = 3;
    prs->startsel = nullptr;
    prs->stopsel = nullptr;
    prs->fragdelim = nullptr;
    ListCell* cell;
    foreach (cell, options) {
        auto* def = static_cast<DefElem*>(lfirst(cell));
        const char* val = defGetString(def);
        if (pg_strcasecmp(def->defname, "MaxWords") == 0) {
            opt.max_words = pg_strtoint32(val);
        } else if (pg_strcasecmp(def->defname, "MinWords") == 0) {
            opt.min_words = pg_strtoint32(val);
        } else if (pg_strcasecmp(def->defname, "ShortWord") == 0) {
            short_word = pg_strtoint32(val);
        } else if (pg_strcasecmp(def->defname, "MaxFragments") == 0) {
            opt.max_fragments = pg_strtoint32(val);
        } else if (pg_strcasecmp(def->defname, "StartSel") == 0) {
            prs->startsel = pstrdup(val);
        } else if (pg_strcasecmp(def->defname, "StopSel") == 0) {
            prs->stopsel = pstrdup(val);
        } else if (pg_strcasecmp(def->defname, "FragmentDelimiter") == 0) {
            prs->fragdelim = pstrdup(val);
        } else if (pg_strcasecmp(def->defname, "HighlightAll") == 0) {
            opt.highlight_all = IsTrue(val);
        } else {
            core::Throw(core::ErrorKind::kInvalidParameter,
                        std::string("unrecognized headline parameter: \"") + def->defname + "\"",
                        "keel.cjk_parser accepts MaxWords, MinWords, ShortWord, MaxFragments, "
                        "StartSel, StopSel, FragmentDelimiter and HighlightAll.");
        }
    }
    if (!opt.highlight_all) {
        const char* problem = nullptr;
        if (opt.min_words >= opt.max_words)
            problem = "MinWords should be less than MaxWords";
        else if (opt.min_words <= 0)
            problem = "MinWords should be positive";
        else if (short_word < 0)
            problem = "ShortWord should be >= 0";
        else if (opt.max_fragments < 0)
            problem = "MaxFragments should be >= 0";
        if (problem != nullptr)
            core::Throw(core::ErrorKind::kInvalidParameter, problem);
    }
    if (prs->startsel == nullptr)
        prs->startsel = pstrdup("<b>");
    if (prs->stopsel == nullptr)
        prs->stopsel = pstrdup("</b>");
    if (prs->fragdelim == nullptr)
        prs->fragdelim = pstrdup(" ... ");
    prs->startsellen = static_cast<int16>(strlen(prs->startsel));
    prs->stopsellen = static_cast<int16>(strlen(prs->stopsel));
    prs->fragdelimlen = static_cast<int16>(strlen(prs->fragdelim));
    return opt;
}

// What each query item means for highlighting.  to_tsquery turns the word 数据库 into
// the phrase '数据' <-> '据库'; a bigram that matches one link of such a phrase alone
// (the 数据 of 数据湖) is not the word searched for.  Operands under ! are no match.
enum : uint8 { kUnderNot = 1, kPhraseLink = 2 };

uint8* OperandRoles(TSQuery query) {
    const int size = query->size;
    auto* roles = static_cast<uint8*>(palloc0(size + 1));
    auto* stack = static_cast<int*>(palloc(sizeof(int) * (size + 1)));
    QueryItem* items = GETQUERY(query);
    int top = 0;
    if (size > 0)
        stack[top++] = 0;  // the root; an operator's right operand is next, left at +left
    while (top > 0) {
        const int i = stack[--top];
        if (items[i].type != QI_OPR)
            continue;
        const QueryOperator& op = items[i].qoperator;
        const uint8 inherited = roles[i] & kUnderNot;
        int children[2] = {i + 1, -1};
        uint8 child_role = inherited;
        if (op.oper == OP_NOT) {
            child_role |= kUnderNot;
        } else {
            children[1] = i + static_cast<int>(op.left);
            if (op.oper == OP_PHRASE && op.distance == 1)
                child_role |= kPhraseLink;
        }
        for (int c : children) {
            if (c <= i || c >= size || top >= size)
                continue;  // malformed: ignore
            roles[c] = child_role;
            stack[top++] = c;
        }
    }
    pfree(stack);
    return roles;
}

constexpr int kBigram = static_cast<int>(CjkTokenType::kCjkBigram);
constexpr int kBlank = static_cast<int>(CjkTokenType::kBlank);
// HeadlineWordEntry.len is 16 bits: merged highlights stay well below.
constexpr size_t kMaxMergedBytes = 60000;

}  // namespace
}  // namespace keel::pg

KEEL_FUNCTION(keel_cjk_prsstart) {
    using namespace keel;
    const int encoding = GetDatabaseEncoding();
    if (encoding != PG_UTF8 && encoding != PG_SQL_ASCII) {
        core::Throw(core::ErrorKind::kFeatureNotSupported, "keel.cjk_parser needs a UTF8 database",
                    std::string("This database's encoding is ") + GetDatabaseEncodingName() + ".",
                    "Create the database with ENCODING 'UTF8'.");
    }
    const char* buf = reinterpret_cast<const char*>(PG_GETARG_POINTER(0));
    const int len = PG_GETARG_INT32(1);
    core::CheckSize(len > 0 ? static_cast<size_t>(len) : 0, core::kMaxCjkTextBytes,
                    "text too large to parse", "keel.cjk_parser takes",
                    "PostgreSQL keeps one array entry per token while it builds a tsvector or a "
                    "headline; CJK text makes about one token per character, so a longer text "
                    "would overrun PostgreSQL's 1 GB allocation limit.",
                    "Index the first part of a document this long, for example left(body, "
                    "8000000).");
    void* mem = palloc(sizeof(core::CjkTokenizer));
    auto* tokenizer = ::new (mem) core::CjkTokenizer(buf, len > 0 ? static_cast<size_t>(len) : 0);
    PG_RETURN_POINTER(tokenizer);
}

// Called once per token: keep it to the tokenizer step and three stores.
KEEL_FUNCTION(keel_cjk_prstoken) {
    auto* tokenizer = reinterpret_cast<keel::core::CjkTokenizer*>(PG_GETARG_POINTER(0));
    auto** text = reinterpret_cast<char**>(PG_GETARG_POINTER(1));
    int* len = reinterpret_cast<int*>(PG_GETARG_POINTER(2));
    keel::core::CjkToken token;
    if (!tokenizer->Next(&token))
        PG_RETURN_INT32(0);
    *text = const_cast<char*>(token.text);
    *len = static_cast<int>(token.len);
    PG_RETURN_INT32(static_cast<int32>(token.type));
}

KEEL_FUNCTION(keel_cjk_prsend) {
    pfree(PG_GETARG_POINTER(0));
    PG_RETURN_VOID();
}

KEEL_FUNCTION(keel_cjk_prslextype) {
    using namespace keel::pg;
    constexpr size_t n = sizeof(kLexTypes) / sizeof(kLexTypes[0]);
    auto* descr = static_cast<LexDescr*>(palloc(sizeof(LexDescr) * (n + 1)));
    for (size_t i = 0; i < n; ++i) {
        descr[i].lexid = static_cast<int>(kLexTypes[i].type);
        descr[i].alias = pstrdup(kLexTypes[i].alias);
        descr[i].descr = pstrdup(kLexTypes[i].description);
    }
    descr[n].lexid = 0;
    descr[n].alias = nullptr;
    descr[n].descr = nullptr;
    PG_RETURN_POINTER(descr);
}

// ts_headline: PostgreSQL has parsed the text with prstoken and marked the tokens that
// match the query (item); this picks what is shown and how it reads.
KEEL_FUNCTION(keel_cjk_prsheadline) {
    using namespace keel;
    using namespace keel::pg;
    auto* prs = reinterpret_cast<HeadlineParsedText*>(PG_GETARG_POINTER(0));
    auto* options = reinterpret_cast<List*>(PG_GETARG_POINTER(1));
    // The same (plain-storage, never toasted) query the words' item pointers point into.
    auto query = reinterpret_cast<TSQuery>(PG_GETARG_POINTER(2));
    const core::HeadlineOptions opt = ReadOptions(prs, options);
    uint8* roles = OperandRoles(query);
    QueryItem* query_items = GETQUERY(query);

    // The tokens, without the "repeated" copies (they only carry extra query items).
    HeadlineWordEntry* words = prs->words;
    const int total = prs->curwords;
    auto* index = static_cast<int*>(palloc(sizeof(int) * (total + 1)));
    auto* tokens =
        static_cast<core::HeadlineToken*>(palloc(sizeof(core::HeadlineToken) * (total + 1)));
    auto* in = static_cast<bool*>(palloc(sizeof(bool) * (total + 1)));
    // How each token matched: a plain operand, or a link of a word's bigram phrase
    // (a word's extra query items follow it as "repeated" copies).
    auto* plain_hit = static_cast<bool*>(palloc0(sizeof(bool) * (total + 1)));
    auto* link_hit = static_cast<bool*>(palloc0(sizeof(bool) * (total + 1)));
    int n = 0;
    for (int i = 0; i < total; ++i) {
        const HeadlineWordEntry& w = words[i];
        if (!w.repeated) {
            index[n] = i;
            tokens[n].is_word = w.type != kBlank;
            ++n;
        }
        if (w.item == nullptr || n == 0)
            continue;
        const ptrdiff_t at = reinterpret_cast<QueryItem*>(w.item) - query_items;
        const uint8 role = (at >= 0 && at < query->size) ? roles[at] : 0;
        if (role & kUnderNot)
            continue;
        if (role & kPhraseLink) {
            link_hit[n - 1] = true;
        } else {
            plain_hit[n - 1] = true;
        }
    }
    // A bigram that is only a phrase link counts when a neighbouring bigram of its run
    // is a link too (数据 next to 据库), not on its own.
    for (int k = 0; k < n; ++k) {
        bool hit = plain_hit[k];
        if (!hit && link_hit[k]) {
            if (words[index[k]].type != kBigram) {
                hit = true;
            } else {
                hit = (k > 0 && words[index[k - 1]].type == kBigram && link_hit[k - 1]) ||
                      (k + 1 < n && words[index[k + 1]].type == kBigram && link_hit[k + 1]);
            }
        }
        tokens[k].matched = hit;
    }
    core::SelectHeadline(tokens, static_cast<size_t>(n), opt, in);

    for (int k = 0; k < n; ++k) {
        HeadlineWordEntry& w = words[index[k]];
        w.in = in[k] ? 1 : 0;
        w.selected = (in[k] && tokens[k].matched) ? 1 : 0;
    }

    // Undo the overlap: a bigram shown right after a bigram shows only its second
    // character (the first is already on screen); when it matched, the piece before
    // it -- which shows that first character -- is highlighted too.
    for (int k = 1; k < n; ++k) {
        HeadlineWordEntry& w = words[index[k]];
        HeadlineWordEntry& prev = words[index[k - 1]];
        if (w.type != kBigram || prev.type != kBigram || !w.in || !prev.in)
            continue;
        const size_t first = core::CjkFirstUnitLength(w.word, w.len);
        memmove(w.word, w.word + first, w.len - first);
        w.len = static_cast<uint16>(w.len - first);
        if (w.selected)
            prev.selected = 1;
    }

    // One highlight per run of highlighted characters: <b>数据库</b>, not
    // <b>数据</b><b>库</b>.  Merged text goes into the group's first entry; the rest
    // are skipped.
    for (int k = 0; k < n; ++k) {
        HeadlineWordEntry& head = words[index[k]];
        if (head.type != kBigram || !head.in || !head.selected)
            continue;
        int end = k + 1;
        size_t bytes = head.len;
        while (end < n) {
            const HeadlineWordEntry& w = words[index[end]];
            if (w.type != kBigram || !w.in || !w.selected || bytes + w.len > kMaxMergedBytes)
                break;
            bytes += w.len;
            ++end;
        }
        if (end > k + 1) {
            auto* merged = static_cast<char*>(palloc(bytes));
            size_t at = 0;
            for (int j = k; j < end; ++j) {
                HeadlineWordEntry& w = words[index[j]];
                memcpy(merged + at, w.word, w.len);
                at += w.len;
                if (j > k)
                    w.skip = 1;
            }
            head.word = merged;
            head.len = static_cast<uint16>(bytes);
        }
        k = end - 1;
    }

    pfree(index);
    pfree(tokens);
    pfree(in);
    pfree(plain_hit);
    pfree(link_hit);
    pfree(roles);
    PG_RETURN_POINTER(prs);
}
