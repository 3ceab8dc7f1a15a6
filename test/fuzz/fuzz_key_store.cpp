// libFuzzer target: the key store's parsers of bytes that come from outside keel's
// control -- the master key file (or command output), a wrapped data key and a key
// check value read back from keel's tables (a superuser or a restored dump could have
// changed them).  Each must reject hostile input cleanly (no crash, no read past the
// end); a master key is accepted only as 64 hex digits and an optional line end, and
// nothing unwraps or verifies under a fixed master key unless keel made it with that key.
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/keywrap.hpp"

using namespace keel::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Aes256Gcm* gcm = new Aes256Gcm();
    std::string_view text(reinterpret_cast<const char*>(data), size);

    auto master = ParseMasterKeyText(text);
    if (master.ok()) {
        if (size < 64 || size > 66)
            abort();
        for (size_t i = 0; i < 64; i++)
            if (!std::isxdigit(static_cast<unsigned char>(text[i])))
                abort();
    }

    Key256 fixed;  // all zeros: the fuzzer cannot have wrapped anything under it by chance
    ByteSpan bytes(data, size);
    uint32_t id = size > 0 ? data[0] : 0;
    auto unwrapped = UnwrapDataKey(*gcm, fixed, bytes, id, 1, KeyPurpose::kEncrypt);
    if (unwrapped.ok() && size != kWrappedKeyBytes)
        abort();
    (void)VerifyKeyCheck(*gcm, fixed, bytes);
    (void)ParseKeyPurpose(text);
    return 0;
}
