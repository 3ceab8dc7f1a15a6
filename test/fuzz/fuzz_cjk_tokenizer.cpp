// libFuzzer target for the CJK tokenizer: any bytes in, and then
//  * every token lies inside the input, is non-empty and shorter than PostgreSQL's limit,
//  * the tokens rebuild the input exactly (a bigram after a bigram adds its last unit),
//  * a bigram is two units, a unigram one, and the stream ends (and stays ended),
//  * headline selection on the token stream stays in bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core/cjk_tokenizer.hpp"

using keel::core::CjkFirstUnitLength;
using keel::core::CjkToken;
using keel::core::CjkTokenizer;
using keel::core::CjkTokenType;

#define CHECK(cond)  \
    do {             \
        if (!(cond)) \
            abort(); \
    } while (0)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* text = reinterpret_cast<const char*>(data);
    CjkTokenizer tok(text, size);
    CjkToken t;
    std::vector<char> rebuilt;
    std::vector<keel::core::HeadlineToken> hl;
    CjkTokenType prev = CjkTokenType::kEnd;
    size_t count = 0;
    while (tok.Next(&t)) {
        CHECK(++count <= size);
        CHECK(t.len > 0 && t.len <= keel::core::kMaxTokenBytes);
        CHECK(t.text >= text && t.text + t.len <= text + size);
        CHECK(static_cast<int>(t.type) >= 1 &&
              static_cast<int>(t.type) <= keel::core::kCjkTokenTypeCount);
        const char* piece = t.text;
        size_t piece_len = t.len;
        if (t.type == CjkTokenType::kCjkBigram || t.type == CjkTokenType::kCjkUnigram) {
            size_t first = CjkFirstUnitLength(t.text, t.len);
            CHECK(first > 0 && first <= t.len);
            if (t.type == CjkTokenType::kCjkUnigram) {
                CHECK(first == t.len);
            } else {
                CHECK(first < t.len);
                CHECK(CjkFirstUnitLength(t.text + first, t.len - first) == t.len - first);
                if (prev == CjkTokenType::kCjkBigram) {
                    piece += first;
                    piece_len -= first;
                }
            }
        }
        rebuilt.insert(rebuilt.end(), piece, piece + piece_len);
        hl.push_back({t.type != CjkTokenType::kBlank, (t.len & 3) == 1});
        prev = t.type;
    }
    CHECK(t.type == CjkTokenType::kEnd);
    CHECK(!tok.Next(&t));
    CHECK(rebuilt.size() == size && (size == 0 || memcmp(rebuilt.data(), data, size) == 0));

    keel::core::HeadlineOptions opt;
    opt.max_words = 1 + (size % 7);
    opt.min_words = 1 + (size % 3);
    opt.max_fragments = static_cast<int>(size % 4);
    std::unique_ptr<bool[]> in(new bool[hl.size() + 1]);
    keel::core::SelectHeadline(hl.data(), hl.size(), opt, in.get());
    return 0;
}
