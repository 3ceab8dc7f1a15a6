// The one table from keel's error kinds to SQLSTATEs.
#include "bridge/guard.hpp"

namespace keel::bridge {

int SqlStateFor(core::ErrorKind kind) noexcept {
    using core::ErrorKind;
    switch (kind) {
        case ErrorKind::kInvalidParameter:
            return ERRCODE_INVALID_PARAMETER_VALUE;
        case ErrorKind::kNullValue:
            return ERRCODE_NULL_VALUE_NOT_ALLOWED;
        case ErrorKind::kInvalidText:
            return ERRCODE_INVALID_TEXT_REPRESENTATION;
        case ErrorKind::kDataCorrupted:
            return ERRCODE_DATA_CORRUPTED;
        case ErrorKind::kUndefinedObject:
            return ERRCODE_UNDEFINED_OBJECT;
        case ErrorKind::kUndefinedColumn:
            return ERRCODE_UNDEFINED_COLUMN;
        case ErrorKind::kWrongObjectType:
            return ERRCODE_WRONG_OBJECT_TYPE;
        case ErrorKind::kDatatypeMismatch:
            return ERRCODE_DATATYPE_MISMATCH;
        case ErrorKind::kDuplicateObject:
            return ERRCODE_DUPLICATE_OBJECT;
        case ErrorKind::kFeatureNotSupported:
            return ERRCODE_FEATURE_NOT_SUPPORTED;
        case ErrorKind::kConfigError:
            return ERRCODE_CONFIG_FILE_ERROR;
        case ErrorKind::kInsufficientPrivilege:
            return ERRCODE_INSUFFICIENT_PRIVILEGE;
        case ErrorKind::kTriggerProtocol:
            return ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED;
        case ErrorKind::kProgramLimit:
            return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
        case ErrorKind::kObjectInUse:
            return ERRCODE_OBJECT_IN_USE;
        case ErrorKind::kInternal:
            return ERRCODE_INTERNAL_ERROR;
    }
    return ERRCODE_INTERNAL_ERROR;
}

}  // namespace keel::bridge
