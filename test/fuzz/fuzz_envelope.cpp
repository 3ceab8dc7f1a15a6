// libFuzzer target: the envelope parser and the text-shape decoder must reject any
// input cleanly (no crash, no read past the end), and anything they accept must be
// consistent with its length.  Authentication is tried with a fixed key, so the
// decrypt path sees hostile input too.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/envelope.hpp"

using namespace keel::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Aes256Gcm* gcm = new Aes256Gcm();
    Key256 key;
    ByteSpan input(data, size);
    auto try_open = [&](ByteSpan bytes) {
        auto env = ParseEnvelope(bytes);
        if (!env.ok())
            return;
        if (env.value().ciphertext.size + kEnvelopeOverhead != bytes.size)
            abort();
        Bytes out(env.value().ciphertext.size + 1);
        ByteSpan aad = ByteSpan::Of("fuzz");
        (void)OpenEnvelope(*gcm, key, env.value(), env.value().has_aad() ? &aad : nullptr,
                           out.data());
    };
    try_open(input);
    auto text = FromTextShape(std::string_view(reinterpret_cast<const char*>(data), size));
    if (text.ok()) {
        // Whatever decodes must encode back to the same text.
        if (ToTextShape(text.value()) !=
            std::string_view(reinterpret_cast<const char*>(data), size))
            abort();
        try_open(text.value());
    }
    return 0;
}
