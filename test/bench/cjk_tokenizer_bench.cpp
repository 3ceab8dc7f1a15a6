// The pure C++ tokenizer alone: MB/s over a file, best of N passes (built and run by
// test/bench/cjk_parser.sh on the same corpus the SQL benchmark indexes).
//   cjk_tokenizer_bench FILE [PASSES]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "core/cjk_tokenizer.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE [PASSES]\n", argv[0]);
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const int passes = argc > 2 ? std::atoi(argv[2]) : 5;

    double best = 1e30;
    size_t tokens = 0, indexed = 0;
    for (int p = 0; p < passes; ++p) {
        auto t0 = std::chrono::steady_clock::now();
        keel::core::CjkTokenizer tok(text.data(), text.size());
        keel::core::CjkToken t;
        size_t n = 0, idx = 0;
        while (tok.Next(&t)) {
            ++n;
            idx += t.type != keel::core::CjkTokenType::kBlank;
        }
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (s < best) best = s;
        tokens = n;
        indexed = idx;
    }
    std::printf("%.1f MB/s (%zu bytes, %zu tokens of which %zu indexable, best of %d passes: %.3f s)\n",
                text.size() / 1e6 / best, text.size(), tokens, indexed, passes, best);
    return 0;
}
