// Time-partition arithmetic: periods, calendar boundaries, partition names, bound
// literals, retention cutoffs and the maintenance plan for one parent table.
//
// Time zone: every boundary is computed on the UTC calendar.  A point in time is
// represented as PostgreSQL represents timestamps: microseconds since
// 2000-01-01 00:00:00.  For a timestamptz key that is the UTC instant; for a
// timestamp key it is the wall-clock value itself; a date key is its midnight.  So a
// monthly partition of a timestamptz column covers [YYYY-MM-01 00:00 UTC, next month
// 00:00 UTC), whatever the session's TimeZone, and two sessions (or the background
// worker) with different TimeZone settings always agree on the boundaries.
#pragma once

#include "core/pure.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace keel::core::parttime {

using Micros = int64_t;  // microseconds since 2000-01-01 00:00:00 (UTC calendar)
constexpr Micros kMicrosPerDay = 86400LL * 1000000LL;
constexpr Micros kMinusInfinity = std::numeric_limits<Micros>::min();
constexpr Micros kPlusInfinity = std::numeric_limits<Micros>::max();

enum class Period { kDay, kWeek, kMonth, kQuarter, kYear };
enum class KeyType { kDate, kTimestamp, kTimestamptz };

// "day", "week", "month", "quarter", "year" (also daily, weekly, monthly, quarterly,
// yearly; case-insensitive).
Result<Period> ParsePeriod(std::string_view text);
const char* PeriodName(Period period) noexcept;

struct Civil {
    int year;
    int month;  // 1..12
    int day;    // 1..31
};
bool operator==(const Civil& a, const Civil& b);

int64_t DaysFromCivil(Civil c) noexcept;  // days since 2000-01-01 (proleptic Gregorian)
Civil CivilFromDays(int64_t days) noexcept;
int64_t FloorDiv(int64_t a, int64_t b) noexcept;
int64_t DayOf(Micros t) noexcept;  // the day a point in time falls on

// First day of the period containing `day`; weeks are ISO weeks (Monday first).
int64_t PeriodFloor(int64_t day, Period period) noexcept;
// The first day of the period n periods after the one starting at `start_day`.
int64_t PeriodAdd(int64_t start_day, Period period, int64_t n) noexcept;

// The name suffix of the period starting at `start_day`:
//   day 2026_01_15, week 2026_w03 (ISO year and week), month 2026_01,
//   quarter 2026_q1, year 2026.
std::string PeriodSuffix(int64_t start_day, Period period);

// "<parent>_<suffix>" within max_bytes (NAMEDATALEN - 1): the parent part is clipped
// at a UTF-8 character boundary so the suffix always survives intact.
std::string PartitionName(std::string_view parent, std::string_view suffix, size_t max_bytes = 63);
// Bytes of `text` that fit in max_bytes without splitting a UTF-8 character.
size_t ClipUtf8(std::string_view text, size_t max_bytes) noexcept;

// A PostgreSQL literal for the midnight starting `day`, for the key type:
// date 2026-01-01, timestamp 2026-01-01 00:00:00, timestamptz 2026-01-01 00:00:00+00.
// Years outside 1..9999 are refused (kProgramLimit).
std::string BoundLiteral(int64_t day, KeyType type);
// A point in time as text (for messages): 2026-01-15 13:45:00 / ...+00 / date.
std::string FormatPoint(Micros t, KeyType type);

// A PostgreSQL interval: months, days and microseconds, kept apart as PostgreSQL does.
struct IntervalValue {
    int32_t months = 0;
    int32_t days = 0;
    int64_t micros = 0;
};
// t - iv on the UTC calendar: months first (day clamped to the month's end), then
// days, then microseconds -- the order PostgreSQL's timestamp - interval uses.
Micros SubtractInterval(Micros t, IntervalValue iv) noexcept;
// True when iv is at least one period long, compared the way PostgreSQL compares
// intervals (1 month = 30 days, 1 day = 24 hours): '1 month' for month, '3 months'
// for quarter, '1 year' or '12 months' or '360 days' for year.
bool AtLeastOnePeriod(IntervalValue iv, Period period) noexcept;

// ---- the plan for one parent ----------------------------------------------------

struct Range {
    Micros lo;  // inclusive; kMinusInfinity for MINVALUE
    Micros hi;  // exclusive; kPlusInfinity for MAXVALUE
};

struct Existing {
    Range range;
    size_t id;  // the caller's index
};

struct PlanInput {
    Period period = Period::kMonth;
    int premake = 3;     // periods after the current one
    int start_back = 0;  // periods before the current one
    std::optional<IntervalValue> retention;
    Micros as_of = 0;
    std::vector<Existing> partitions;  // non-default partitions, any order
};

enum class Coverage { kFree, kCovered, kPartial };

struct Conflict {
    int64_t start_day;
    std::vector<size_t> overlapping;  // ids of the partitions that cover it in part
};

struct Plan {
    std::vector<int64_t> create;      // period start days, ascending
    std::vector<Conflict> conflicts;  // wanted periods only partly covered
    std::vector<size_t> retire;       // ids of partitions wholly older than the cutoff
    std::optional<Micros> cutoff;     // as_of - retention
};

Coverage CoverageOf(Range wanted, const std::vector<Existing>& partitions,
                    std::vector<size_t>* overlapping = nullptr);
Range PeriodRange(int64_t start_day, Period period) noexcept;
Plan MakePlan(const PlanInput& in);

}  // namespace keel::core::parttime
