// Expected failures in the pure core are values, not exceptions: a Status carries an
// error kind (which the bridge maps to exactly one SQLSTATE) and the text a user reads.
// Exceptions remain for the unexpected (bad_alloc, broken invariants); the bridge's
// guard converts those too, so nothing escapes into PostgreSQL frames.
#pragma once

#include "core/pure.hpp"

#include <string>
#include <utility>

namespace keel::core {

// Each kind maps to one SQLSTATE in src/bridge/errors.cpp; add a kind there when
// you add one here (a unit test checks the names stay in step).
enum class ErrorKind {
    kInvalidParameter,       // bad argument value                      22023
    kNullValue,              // NULL where a value is required          22004
    kInvalidText,            // unparseable text representation        22P02
    kDataCorrupted,          // tampered ciphertext, broken chain       XX001
    kUndefinedObject,        // unknown key, table, column              42704
    kUndefinedColumn,        // named column does not exist             42703
    kWrongObjectType,        // a view where a table is needed          42809
    kDatatypeMismatch,       // column of the wrong type                42804
    kDuplicateObject,        // already exists                          42710
    kFeatureNotSupported,    // valid request keel does not do         0A000
    kConfigError,            // missing/bad GUC, master key file       F0000
    kInsufficientPrivilege,  //                                      42501
    kTriggerProtocol,        // trigger fired in the wrong way          39P01
    kProgramLimit,           // value too large                         54000
    kObjectInUse,            // lock not available / concurrent use     55006
    kInternal,               // a bug in keel                           XX000
};

const char* ErrorKindName(ErrorKind kind) noexcept;

struct Error {
    ErrorKind kind = ErrorKind::kInternal;
    std::string message;  // lower-case, no trailing period (PostgreSQL style)
    std::string detail;   // full sentences, may be empty
    std::string hint;     // full sentences, may be empty
};

// Thrown only by code that cannot return a value (constructors, deep helpers);
// the bridge catches it and reports kind/message/detail/hint unchanged.
class KeelException : public std::exception {
  public:
    explicit KeelException(Error e) : error_(std::move(e)) {}
    const char* what() const noexcept override { return error_.message.c_str(); }
    const Error& error() const noexcept { return error_; }

  private:
    Error error_;
};

[[noreturn]] inline void Throw(ErrorKind kind, std::string message, std::string detail = {},
                               std::string hint = {}) {
    throw KeelException(Error{kind, std::move(message), std::move(detail), std::move(hint)});
}

// A value or an Error.  Deliberately tiny: C++17 has no std::expected.
template <typename T>
class Result {
  public:
    Result(T value) : ok_(true), value_(std::move(value)) {}       // NOLINT: implicit by design
    Result(Error error) : ok_(false), error_(std::move(error)) {}  // NOLINT

    bool ok() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }
    const T& value() const& { return value_; }
    T& value() & { return value_; }
    T&& value() && { return std::move(value_); }
    const Error& error() const& { return error_; }

    // For callers that have nowhere to return an Error to: the bridge turns the
    // exception back into the same ERROR.
    T& ValueOrThrow() & {
        if (!ok_)
            throw KeelException(error_);
        return value_;
    }
    T ValueOrThrow() && {
        if (!ok_)
            throw KeelException(std::move(error_));
        return std::move(value_);
    }

  private:
    bool ok_;
    T value_{};
    Error error_{};
};

inline Error MakeError(ErrorKind kind, std::string message, std::string detail = {},
                       std::string hint = {}) {
    return Error{kind, std::move(message), std::move(detail), std::move(hint)};
}

}  // namespace keel::core
