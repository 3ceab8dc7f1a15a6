// A tokenizer for mixed CJK / alphabetic text, the pure half of keel.cjk_parser.
//
// The input is UTF-8 bytes (any bytes: invalid sequences are consumed one byte at a
// time as separators, and nothing is ever read past the end of the buffer).  The
// tokenizer walks it once, left to right, and hands out tokens that point into the
// input: no copy, no heap allocation, O(1) work per token.
//
//   * CJK runs -- maximal runs of Han (every block incl. extensions A..I and the
//     compatibility ideographs), Hiragana, Katakana, Bopomofo and Hangul -- become
//     overlapping bigrams: "数据库" gives "数据", "据库".  A run of one character gives
//     that character as a unigram.  Han, Kana and Hangul form one run when adjacent
//     (Japanese mixes Kanji and Kana inside words).
//   * Runs of letters and digits (ASCII, Latin-1, Latin Extended, Greek, Cyrillic, any
//     other alphabetic script, full-width Latin) become words; runs of digits alone
//     become numbers.  Case is left alone: lower-casing is the dictionary's job.
//   * Everything else -- whitespace, ASCII and CJK / full-width punctuation, symbols,
//     emoji, control characters, invalid bytes -- separates tokens and is handed out
//     as blank tokens, so that the tokens cover the whole input (ts_headline rebuilds
//     the text from them).
//   * Combining marks and variation selectors stay with the character before them.
//
// Every token is shorter than kMaxTokenBytes (PostgreSQL refuses longer ones).  A word
// that would be longer is handed out in pieces of type kLongWord, which a text search
// configuration leaves unindexed; long blank stretches are cut the same way.
#pragma once

#include "core/pure.hpp"

#include <cstddef>
#include <cstdint>

namespace keel::core {

// Token types; the numbers are the lexids the PostgreSQL parser reports (1-based,
// stable: text search configurations store them).
enum class CjkTokenType : int {
    kEnd = 0,         // no more tokens
    kWord = 1,        // letters (and digits), e.g. "PostgreSQL", "utf8", "Ｄａｔａ"
    kNumber = 2,      // digits only, e.g. "2024"
    kCjkBigram = 3,   // two adjacent CJK characters
    kCjkUnigram = 4,  // a CJK character standing alone
    kLongWord = 5,    // a piece of a word too long to index
    kBlank = 6,       // separators: spaces, punctuation, symbols, invalid bytes
};
inline constexpr int kCjkTokenTypeCount = 6;

// PostgreSQL's MAXSTRLEN is 2048 and it rejects tokens of that length or longer.
inline constexpr size_t kMaxTokenBytes = 2000;

struct CjkToken {
    CjkTokenType type = CjkTokenType::kEnd;
    const char* text = nullptr;
    size_t len = 0;
};

// Character classes the tokenizer works with.
enum class CjkCharClass : uint8_t {
    kSeparator,  // whitespace, punctuation, symbols, controls, invalid bytes
    kLetter,     // part of a word
    kDigit,      // part of a word or number
    kCjk,        // Han, Kana, Bopomofo, Hangul
    kExtend,     // combining mark / variation selector: joins the preceding character
};

// Decodes one UTF-8 sequence at p (p < end).  Returns the number of bytes consumed
// (1..4) and sets *cp; an invalid or truncated sequence consumes one byte and sets
// *cp to kInvalidCodePoint.  Strict: no overlongs, no surrogates, nothing past U+10FFFF.
inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFFu;
size_t DecodeUtf8(const unsigned char* p, const unsigned char* end, char32_t* cp) noexcept;

// The class of one code point (kInvalidCodePoint is a separator).
CjkCharClass ClassifyCodePoint(char32_t cp) noexcept;

// Byte length of the first character of s (one code point plus the combining marks
// and variation selectors after it); at most len, at least 1 when len > 0.
size_t CjkFirstUnitLength(const char* s, size_t len) noexcept;

// Streams tokens out of a buffer the caller keeps alive.  Trivially copyable and
// destructible: it may live in palloc'd memory.
class CjkTokenizer {
  public:
    CjkTokenizer() = default;
    CjkTokenizer(const char* data, size_t len) noexcept { Reset(data, len); }

    void Reset(const char* data, size_t len) noexcept;

    // The next token; false (and type kEnd) once the input is used up.
    bool Next(CjkToken* out) noexcept;

  private:
    // One decoded character: where it ends and what it is (end == nullptr: none).
    struct Char {
        const unsigned char* end = nullptr;
        CjkCharClass cls = CjkCharClass::kSeparator;
    };
    Char Peek(const unsigned char* p) const noexcept;
    // Skips the marks after p; *next is the character at the returned position, if any.
    const unsigned char* SkipExtends(const unsigned char* p, Char* next) const noexcept;
    // The character at cursor_, already decoded (each character is decoded once).
    void Remember(Char next) noexcept {
        next_ = next;
        next_valid_ = next.end != nullptr;
    }
    const unsigned char* CutAt(const unsigned char* from, const unsigned char* to) const noexcept;
    void Emit(CjkToken* out, CjkTokenType type, const unsigned char* from,
              const unsigned char* to) noexcept;

    const unsigned char* begin_ = nullptr;
    const unsigned char* end_ = nullptr;
    const unsigned char* cursor_ = nullptr;
    // Inside a CJK run: the start of the last unit handed out as a bigram's second half.
    const unsigned char* run_unit_ = nullptr;
    // Inside an over-long word: where it ends.
    const unsigned char* long_end_ = nullptr;
    Char next_{};
    bool next_valid_ = false;
};

// Fragment selection for ts_headline, on a plain array (no allocation).  Each entry
// is a token of the text, in order: is_word (anything but a blank) and matched (the
// token matches a query operand).  On return in[i] says whether token i is shown.
struct HeadlineToken {
    bool is_word = false;
    bool matched = false;
};

struct HeadlineOptions {
    int max_words = 35;     // longest fragment, in word tokens
    int min_words = 15;     // shown from the start when nothing matched
    int max_fragments = 0;  // 0: one fragment around the best cluster of matches
    bool highlight_all = false;
};

void SelectHeadline(const HeadlineToken* tokens, size_t n, const HeadlineOptions& options,
                    bool* in) noexcept;

}  // namespace keel::core
