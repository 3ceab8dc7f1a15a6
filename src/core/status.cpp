#include "core/status.hpp"

namespace keel::core {

const char* ErrorKindName(ErrorKind kind) noexcept {
    switch (kind) {
        case ErrorKind::kInvalidParameter:
            return "invalid_parameter";
        case ErrorKind::kNullValue:
            return "null_value";
        case ErrorKind::kInvalidText:
            return "invalid_text";
        case ErrorKind::kDataCorrupted:
            return "data_corrupted";
        case ErrorKind::kUndefinedObject:
            return "undefined_object";
        case ErrorKind::kUndefinedColumn:
            return "undefined_column";
        case ErrorKind::kWrongObjectType:
            return "wrong_object_type";
        case ErrorKind::kDatatypeMismatch:
            return "datatype_mismatch";
        case ErrorKind::kDuplicateObject:
            return "duplicate_object";
        case ErrorKind::kFeatureNotSupported:
            return "feature_not_supported";
        case ErrorKind::kConfigError:
            return "config_error";
        case ErrorKind::kInsufficientPrivilege:
            return "insufficient_privilege";
        case ErrorKind::kTriggerProtocol:
            return "trigger_protocol";
        case ErrorKind::kProgramLimit:
            return "program_limit";
        case ErrorKind::kObjectInUse:
            return "object_in_use";
        case ErrorKind::kInternal:
            return "internal";
    }
    return "internal";
}

}  // namespace keel::core
