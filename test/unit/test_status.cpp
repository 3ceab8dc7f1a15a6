#include <gtest/gtest.h>

#include "core/status.hpp"

using keel::core::Error;
using keel::core::ErrorKind;
using keel::core::Result;

TEST(Status, ResultCarriesValue) {
    Result<int> r(42);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value(), 42);
}

TEST(Status, ResultCarriesError) {
    Result<int> r(keel::core::MakeError(ErrorKind::kDataCorrupted, "bad", "detail"));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind, ErrorKind::kDataCorrupted);
    EXPECT_EQ(r.error().detail, "detail");
}

TEST(Status, ValueOrThrowRethrowsTheSameError) {
    Result<std::string> r(keel::core::MakeError(ErrorKind::kInvalidParameter, "nope"));
    try {
        std::move(r).ValueOrThrow();
        FAIL() << "expected an exception";
    } catch (const keel::core::KeelException& e) {
        EXPECT_EQ(e.error().kind, ErrorKind::kInvalidParameter);
        EXPECT_STREQ(e.what(), "nope");
    }
}

TEST(Status, EveryKindHasAName) {
    for (int k = 0; k <= static_cast<int>(ErrorKind::kInternal); ++k) {
        std::string name = keel::core::ErrorKindName(static_cast<ErrorKind>(k));
        EXPECT_FALSE(name.empty());
        if (k != static_cast<int>(ErrorKind::kInternal)) {
            EXPECT_NE(name, "internal");
        }
    }
}
