#include "core/partition_time.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace keel::core::parttime {

namespace {

constexpr int64_t kDaysFrom1970To2000 = 10957;

std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool IsLeap(int64_t y) noexcept {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int DaysInMonth(int64_t y, int m) noexcept {
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// 0 = Monday .. 6 = Sunday; 2000-01-01 was a Saturday.
int Weekday(int64_t day) noexcept {
    return static_cast<int>(((day % 7) + 7 + 5) % 7);
}

void CheckYear(int year) {
    if (year < 1 || year > 9999) {
        Throw(ErrorKind::kProgramLimit,
              "partition boundary year " + std::to_string(year) + " is out of range",
              "keel computes partition boundaries for the years 1 to 9999.");
    }
}

}  // namespace

Result<Period> ParsePeriod(std::string_view text) {
    std::string t = Lower(text);
    if (t == "day" || t == "daily" || t == "1 day")
        return Period::kDay;
    if (t == "week" || t == "weekly" || t == "1 week")
        return Period::kWeek;
    if (t == "month" || t == "monthly" || t == "1 month")
        return Period::kMonth;
    if (t == "quarter" || t == "quarterly" || t == "3 months")
        return Period::kQuarter;
    if (t == "year" || t == "yearly" || t == "1 year")
        return Period::kYear;
    return MakeError(ErrorKind::kInvalidParameter,
                     "invalid partition interval \"" + std::string(text) + "\"",
                     "The interval must be day, week, month, quarter or year.");
}

const char* PeriodName(Period period) noexcept {
    switch (period) {
        case Period::kDay:
            return "day";
        case Period::kWeek:
            return "week";
        case Period::kMonth:
            return "month";
        case Period::kQuarter:
            return "quarter";
        case Period::kYear:
            return "year";
    }
    return "month";
}

bool operator==(const Civil& a, const Civil& b) {
    return a.year == b.year && a.month == b.month && a.day == b.day;
}

int64_t FloorDiv(int64_t a, int64_t b) noexcept {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

// Days/civil conversion after Howard Hinnant's public-domain algorithms (eras of
// 400 years starting on March 1st), rebased on 2000-01-01.
int64_t DaysFromCivil(Civil c) noexcept {
    int64_t y = c.year - (c.month <= 2 ? 1 : 0);
    int64_t era = FloorDiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t mp = (c.month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + c.day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 - kDaysFrom1970To2000;
}

Civil CivilFromDays(int64_t days) noexcept {
    int64_t z = days + kDaysFrom1970To2000 + 719468;
    int64_t era = FloorDiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    return Civil{static_cast<int>(y), m, d};
}

int64_t DayOf(Micros t) noexcept {
    return FloorDiv(t, kMicrosPerDay);
}

int64_t PeriodFloor(int64_t day, Period period) noexcept {
    switch (period) {
        case Period::kDay:
            return day;
        case Period::kWeek:
            return day - Weekday(day);
        case Period::kMonth: {
            Civil c = CivilFromDays(day);
            return DaysFromCivil({c.year, c.month, 1});
        }
        case Period::kQuarter: {
            Civil c = CivilFromDays(day);
            return DaysFromCivil({c.year, (c.month - 1) / 3 * 3 + 1, 1});
        }
        case Period::kYear: {
            Civil c = CivilFromDays(day);
            return DaysFromCivil({c.year, 1, 1});
        }
    }
    return day;
}

int64_t PeriodAdd(int64_t start_day, Period period, int64_t n) noexcept {
    int64_t months = 0;
    switch (period) {
        case Period::kDay:
            return start_day + n;
        case Period::kWeek:
            return start_day + 7 * n;
        case Period::kMonth:
            months = n;
            break;
        case Period::kQuarter:
            months = 3 * n;
            break;
        case Period::kYear:
            months = 12 * n;
            break;
    }
    Civil c = CivilFromDays(start_day);
    int64_t total = static_cast<int64_t>(c.year) * 12 + (c.month - 1) + months;
    int64_t y = FloorDiv(total, 12);
    int m = static_cast<int>(total - y * 12 + 1);
    return DaysFromCivil({static_cast<int>(y), m, 1});
}

std::string PeriodSuffix(int64_t start_day, Period period) {
    Civil c = CivilFromDays(start_day);
    char buf[32];
    switch (period) {
        case Period::kDay:
            std::snprintf(buf, sizeof buf, "%04d_%02d_%02d", c.year, c.month, c.day);
            break;
        case Period::kWeek: {
            // The ISO year is the year of the week's Thursday.
            int64_t monday = start_day - Weekday(start_day);
            Civil thursday = CivilFromDays(monday + 3);
            int64_t jan1 = DaysFromCivil({thursday.year, 1, 1});
            int week = static_cast<int>((monday + 3 - jan1) / 7 + 1);
            std::snprintf(buf, sizeof buf, "%04d_w%02d", thursday.year, week);
            break;
        }
        case Period::kMonth:
            std::snprintf(buf, sizeof buf, "%04d_%02d", c.year, c.month);
            break;
        case Period::kQuarter:
            std::snprintf(buf, sizeof buf, "%04d_q%d", c.year, (c.month - 1) / 3 + 1);
            break;
        case Period::kYear:
            std::snprintf(buf, sizeof buf, "%04d", c.year);
            break;
    }
    return buf;
}

size_t ClipUtf8(std::string_view text, size_t max_bytes) noexcept {
    if (text.size() <= max_bytes)
        return text.size();
    size_t n = max_bytes;
    // Step back over continuation bytes (10xxxxxx) to a character start.
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80)
        n--;
    return n;
}

std::string PartitionName(std::string_view parent, std::string_view suffix, size_t max_bytes) {
    size_t room = max_bytes > suffix.size() + 1 ? max_bytes - suffix.size() - 1 : 0;
    std::string name(parent.substr(0, ClipUtf8(parent, room)));
    name += '_';
    name += suffix;
    return name;
}

std::string BoundLiteral(int64_t day, KeyType type) {
    Civil c = CivilFromDays(day);
    CheckYear(c.year);
    char buf[48];
    switch (type) {
        case KeyType::kDate:
            std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
            break;
        case KeyType::kTimestamp:
            std::snprintf(buf, sizeof buf, "%04d-%02d-%02d 00:00:00", c.year, c.month, c.day);
            break;
        case KeyType::kTimestamptz:
            std::snprintf(buf, sizeof buf, "%04d-%02d-%02d 00:00:00+00", c.year, c.month, c.day);
            break;
    }
    return buf;
}

std::string FormatPoint(Micros t, KeyType type) {
    if (t == kMinusInfinity)
        return "MINVALUE";
    if (t == kPlusInfinity)
        return "MAXVALUE";
    int64_t day = DayOf(t);
    Civil c = CivilFromDays(day);
    int64_t in_day = t - day * kMicrosPerDay;
    int64_t secs = in_day / 1000000;
    int64_t frac = in_day % 1000000;
    char buf[64];
    if (type == KeyType::kDate) {
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", c.year, c.month, c.day);
    } else {
        int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month,
                              c.day, static_cast<int>(secs / 3600),
                              static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60));
        if (frac != 0 && n > 0) {
            n += std::snprintf(buf + n, sizeof buf - n, ".%06lld", static_cast<long long>(frac));
        }
        if (type == KeyType::kTimestamptz && n > 0)
            std::snprintf(buf + n, sizeof buf - n, "+00");
    }
    return buf;
}

Micros SubtractInterval(Micros t, IntervalValue iv) noexcept {
    if (t == kMinusInfinity || t == kPlusInfinity)
        return t;
    int64_t day = DayOf(t);
    Micros in_day = t - day * kMicrosPerDay;
    if (iv.months != 0) {
        Civil c = CivilFromDays(day);
        int64_t total = static_cast<int64_t>(c.year) * 12 + (c.month - 1) - iv.months;
        int64_t y = FloorDiv(total, 12);
        int m = static_cast<int>(total - y * 12 + 1);
        int d = std::min(c.day, DaysInMonth(y, m));
        day = DaysFromCivil({static_cast<int>(y), m, d});
    }
    day -= iv.days;
    return day * kMicrosPerDay + in_day - iv.micros;
}

bool AtLeastOnePeriod(IntervalValue iv, Period period) noexcept {
    // PostgreSQL's interval ordering: months count 30 days, days 24 hours.
    __int128 span = (static_cast<__int128>(iv.months) * 30 + iv.days) * kMicrosPerDay + iv.micros;
    int64_t need_days = 1;
    switch (period) {
        case Period::kDay:
            need_days = 1;
            break;
        case Period::kWeek:
            need_days = 7;
            break;
        case Period::kMonth:
            need_days = 30;
            break;
        case Period::kQuarter:
            need_days = 90;
            break;
        case Period::kYear:
            need_days = 360;
            break;
    }
    return span >= static_cast<__int128>(need_days) * kMicrosPerDay;
}

Range PeriodRange(int64_t start_day, Period period) noexcept {
    return Range{start_day * kMicrosPerDay, PeriodAdd(start_day, period, 1) * kMicrosPerDay};
}

Coverage CoverageOf(Range wanted, const std::vector<Existing>& partitions,
                    std::vector<size_t>* overlapping) {
    // Partitions of one table never overlap each other, so summing the overlaps
    // tells covered, free and partly covered apart.
    unsigned __int128 covered = 0;
    bool any = false;
    for (const Existing& p : partitions) {
        Micros lo = std::max(wanted.lo, p.range.lo);
        Micros hi = std::min(wanted.hi, p.range.hi);
        if (lo >= hi)
            continue;
        any = true;
        covered += static_cast<unsigned __int128>(static_cast<__int128>(hi) - lo);
        if (overlapping)
            overlapping->push_back(p.id);
    }
    if (!any)
        return Coverage::kFree;
    unsigned __int128 want =
        static_cast<unsigned __int128>(static_cast<__int128>(wanted.hi) - wanted.lo);
    return covered >= want ? Coverage::kCovered : Coverage::kPartial;
}

Plan MakePlan(const PlanInput& in) {
    Plan plan;
    if (in.retention)
        plan.cutoff = SubtractInterval(in.as_of, *in.retention);

    int64_t current = PeriodFloor(DayOf(in.as_of), in.period);
    for (int64_t k = -static_cast<int64_t>(in.start_back); k <= in.premake; k++) {
        int64_t start = PeriodAdd(current, in.period, k);
        Range r = PeriodRange(start, in.period);
        // Never make what retention would retire at once.
        if (plan.cutoff && r.hi <= *plan.cutoff)
            continue;
        std::vector<size_t> overlapping;
        switch (CoverageOf(r, in.partitions, &overlapping)) {
            case Coverage::kFree:
                plan.create.push_back(start);
                break;
            case Coverage::kCovered:
                break;
            case Coverage::kPartial:
                plan.conflicts.push_back({start, std::move(overlapping)});
                break;
        }
    }

    if (plan.cutoff) {
        std::vector<const Existing*> old;
        for (const Existing& p : in.partitions) {
            if (p.range.hi != kPlusInfinity && p.range.hi <= *plan.cutoff)
                old.push_back(&p);
        }
        std::sort(old.begin(), old.end(),
                  [](const Existing* a, const Existing* b) { return a->range.hi < b->range.hi; });
        for (const Existing* p : old)
            plan.retire.push_back(p->id);
    }
    return plan;
}

}  // namespace keel::core::parttime
