#include <gtest/gtest.h>

#include "core/password.hpp"

using namespace keel::core;

namespace {
Argon2Params Fast() {
    Argon2Params p;
    p.memory_kib = 1024;
    p.iterations = 1;
    return p;
}
}  // namespace

TEST(Password, HashVerifyAndPhcFormat) {
    std::string h = HashPassword("correct horse", Fast());
    EXPECT_EQ(h.rfind("$argon2id$v=19$m=1024,t=1,p=1$", 0), 0u) << h;
    EXPECT_LE(h.size(), 255u);
    EXPECT_TRUE(VerifyPassword("correct horse", h).value());
    EXPECT_FALSE(VerifyPassword("correct horsE", h).value());
    EXPECT_FALSE(VerifyPassword("", h).value());
    EXPECT_NE(h, HashPassword("correct horse", Fast()));  // random salt
}

TEST(Password, KnownAnswerFromLibargon2) {
    // RFC 9106 style check: a hash made by the reference implementation verifies.
    // (argon2id, m=65536, t=2, p=1, salt "somesalt", password "password")
    const char* ref =
        "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
    EXPECT_TRUE(VerifyPassword("password", ref).value());
    EXPECT_FALSE(VerifyPassword("passwore", ref).value());
}

TEST(Password, RejectsMalformedAndForeign) {
    for (const char* bad :
         {"", "x", "$argon2id", "$argon2id$v=19$m=1024,t=1,p=1$", "$argon2id$v=18$m=1,t=1,p=1$a$b",
          "$argon2id$v=19$m=1024,t=0,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
          "$argon2id$v=19$m=1024,t=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
          "$argon2id$v=19$m=1024,t=1,p=1$c29t!XNhbHQ$"
          "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"}) {
        auto r = ParsePhc(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_EQ(r.error().kind, ErrorKind::kInvalidText) << bad;
    }
    auto bcrypt = ParsePhc("$2b$10$abcdefghijklmnopqrstuu5Jz1nHq0XcVx1sFbJ7D0Jc7UeCzQ3m");
    EXPECT_EQ(bcrypt.error().kind, ErrorKind::kFeatureNotSupported);
}

TEST(Password, NeedsRehash) {
    std::string weak = HashPassword("pw", Fast());
    Argon2Params strong;
    EXPECT_TRUE(NeedsRehash(weak, strong).value());
    EXPECT_FALSE(NeedsRehash(weak, Fast()).value());
    EXPECT_TRUE(
        NeedsRehash("$2b$10$abcdefghijklmnopqrstuu5Jz1nHq0XcVx1sFbJ7D0Jc7UeCzQ3m", strong).value());
}

TEST(Tokens, Sha256AndRandom) {
    EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    std::string t = RandomToken(32);
    EXPECT_EQ(t.size(), 43u);
    EXPECT_EQ(
        t.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        std::string::npos);
    EXPECT_NE(t, RandomToken(32));
}
