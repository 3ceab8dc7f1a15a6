#include <gtest/gtest.h>

#include "core/envelope.hpp"
#include "core/limits.hpp"
#include "core/status.hpp"

using keel::core::CheckSize;
using keel::core::ErrorKind;
using keel::core::KeelException;
using keel::core::kMaxValueBytes;
using keel::core::ShownName;

TEST(Limits, CheckSizeAcceptsUpToTheLimit) {
    EXPECT_NO_THROW(CheckSize(0, 10, "x", "y"));
    EXPECT_NO_THROW(CheckSize(kMaxValueBytes, kMaxValueBytes, "x", "y"));
}

TEST(Limits, CheckSizeNamesTheLimitWithProgramLimit) {
    try {
        CheckSize(kMaxValueBytes + 1, kMaxValueBytes, "ciphertext too large",
                  "PostgreSQL allows in one value", "detail", "hint");
        FAIL() << "expected an exception";
    } catch (const KeelException& e) {
        EXPECT_EQ(e.error().kind, ErrorKind::kProgramLimit);
        EXPECT_EQ(e.error().message,
                  "ciphertext too large: 1073741820 bytes, more than the 1073741819 bytes "
                  "PostgreSQL allows in one value");
        EXPECT_EQ(e.error().detail, "detail");
        EXPECT_EQ(e.error().hint, "hint");
    }
}

TEST(Limits, TheLargestEncryptableByteaFits) {
    // keel.encrypt() accepts a plaintext whose envelope still fits in one value.
    size_t overhead = keel::core::EnvelopeSize(0);
    EXPECT_NO_THROW(
        CheckSize(keel::core::EnvelopeSize(kMaxValueBytes - overhead), kMaxValueBytes, "x", "y"));
    EXPECT_THROW(CheckSize(keel::core::EnvelopeSize(kMaxValueBytes - overhead + 1), kMaxValueBytes,
                           "x", "y"),
                 KeelException);
}

TEST(Limits, ShownNameKeepsShortNames) {
    EXPECT_EQ(ShownName(""), "");
    EXPECT_EQ(ShownName(std::string(64, 'k')), std::string(64, 'k'));
}

TEST(Limits, ShownNameCutsLongNames) {
    EXPECT_EQ(ShownName(std::string(65, 'k')), std::string(64, 'k') + "...");
    EXPECT_EQ(ShownName(std::string(10 << 20, 'k')), std::string(64, 'k') + "...");
}

TEST(Limits, ShownNameCutsOnACharacterBoundary) {
    // 62 ASCII bytes, then a 3-byte character that straddles byte 64: it is left out whole.
    std::string name = std::string(62, 'a') + "\xe6\x95\xb0" + "tail";
    EXPECT_EQ(ShownName(name), std::string(62, 'a') + "...");
    // 61 ASCII bytes + the 3-byte character end exactly at byte 64: it stays.
    name = std::string(61, 'a') + "\xe6\x95\xb0" + "tail";
    EXPECT_EQ(ShownName(name), std::string(61, 'a') + "\xe6\x95\xb0...");
}

TEST(Limits, ShownNameTakesALongerLimitForPaths) {
    std::string path = "/" + std::string(1000, 'p') + "/master.key";
    EXPECT_EQ(ShownName(path, keel::core::kShownPathBytes), path);
    EXPECT_EQ(ShownName(std::string(2000, 'p'), keel::core::kShownPathBytes),
              std::string(1024, 'p') + "...");
}
