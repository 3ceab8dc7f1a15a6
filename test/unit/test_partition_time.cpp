#include <gtest/gtest.h>

#include "core/partition_time.hpp"

using namespace keel::core::parttime;
using keel::core::ErrorKind;
using keel::core::KeelException;

namespace {

int64_t D(int y, int m, int d) {
    return DaysFromCivil({y, m, d});
}
Micros At(int y, int m, int d, int hh = 0, int mm = 0, int ss = 0) {
    return D(y, m, d) * kMicrosPerDay + ((hh * 60 + mm) * 60 + ss) * 1000000LL;
}

}  // namespace

TEST(PartitionTime, CivilRoundTripsAndEpoch) {
    EXPECT_EQ(D(2000, 1, 1), 0);
    EXPECT_EQ(D(1999, 12, 31), -1);
    EXPECT_EQ(D(2000, 3, 1), 60);  // 2000 is a leap year (divisible by 400)
    EXPECT_EQ(D(1970, 1, 1), -10957);
    for (int64_t d = -800000; d <= 800000; d += 7) {
        EXPECT_EQ(DaysFromCivil(CivilFromDays(d)), d);
    }
    EXPECT_EQ(CivilFromDays(D(2024, 2, 29)), (Civil{2024, 2, 29}));
    EXPECT_EQ(CivilFromDays(D(1900, 3, 1) - 1), (Civil{1900, 2, 28}));  // 1900 not leap
}

TEST(PartitionTime, ParsePeriod) {
    EXPECT_EQ(ParsePeriod("month").value(), Period::kMonth);
    EXPECT_EQ(ParsePeriod("Monthly").value(), Period::kMonth);
    EXPECT_EQ(ParsePeriod("week").value(), Period::kWeek);
    EXPECT_EQ(ParsePeriod("quarter").value(), Period::kQuarter);
    EXPECT_EQ(ParsePeriod("YEAR").value(), Period::kYear);
    EXPECT_EQ(ParsePeriod("daily").value(), Period::kDay);
    auto bad = ParsePeriod("fortnight");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().kind, ErrorKind::kInvalidParameter);
    EXPECT_FALSE(ParsePeriod("").ok());
}

TEST(PartitionTime, FloorMonthQuarterYear) {
    EXPECT_EQ(PeriodFloor(D(2026, 1, 31), Period::kMonth), D(2026, 1, 1));
    EXPECT_EQ(PeriodFloor(D(2024, 2, 29), Period::kMonth), D(2024, 2, 1));
    EXPECT_EQ(PeriodFloor(D(2026, 6, 30), Period::kQuarter), D(2026, 4, 1));
    EXPECT_EQ(PeriodFloor(D(2026, 12, 31), Period::kQuarter), D(2026, 10, 1));
    EXPECT_EQ(PeriodFloor(D(2026, 12, 31), Period::kYear), D(2026, 1, 1));
    EXPECT_EQ(PeriodFloor(D(1999, 12, 31), Period::kMonth), D(1999, 12, 1));  // before epoch
}

TEST(PartitionTime, IsoWeeks) {
    // 2026-01-01 is a Thursday: its ISO week starts Monday 2025-12-29 and is 2026-W01.
    EXPECT_EQ(PeriodFloor(D(2026, 1, 1), Period::kWeek), D(2025, 12, 29));
    EXPECT_EQ(PeriodSuffix(D(2025, 12, 29), Period::kWeek), "2026_w01");
    // 2021-01-03 (Sunday) belongs to 2020-W53.
    EXPECT_EQ(PeriodFloor(D(2021, 1, 3), Period::kWeek), D(2020, 12, 28));
    EXPECT_EQ(PeriodSuffix(D(2020, 12, 28), Period::kWeek), "2020_w53");
    EXPECT_EQ(PeriodSuffix(D(2021, 1, 4), Period::kWeek), "2021_w01");
    // A Monday is its own floor; Sunday goes back six days.
    EXPECT_EQ(PeriodFloor(D(2026, 3, 16), Period::kWeek), D(2026, 3, 16));
    EXPECT_EQ(PeriodFloor(D(2026, 3, 22), Period::kWeek), D(2026, 3, 16));
    EXPECT_EQ(PeriodFloor(D(1999, 12, 29), Period::kWeek), D(1999, 12, 27));
}

TEST(PartitionTime, AddPeriods) {
    EXPECT_EQ(PeriodAdd(D(2026, 1, 1), Period::kMonth, 1), D(2026, 2, 1));
    EXPECT_EQ(PeriodAdd(D(2026, 12, 1), Period::kMonth, 1), D(2027, 1, 1));
    EXPECT_EQ(PeriodAdd(D(2026, 1, 1), Period::kMonth, -1), D(2025, 12, 1));
    EXPECT_EQ(PeriodAdd(D(2026, 1, 1), Period::kMonth, -13), D(2024, 12, 1));
    EXPECT_EQ(PeriodAdd(D(2026, 10, 1), Period::kQuarter, 1), D(2027, 1, 1));
    EXPECT_EQ(PeriodAdd(D(2024, 1, 1), Period::kYear, 1), D(2025, 1, 1));
    EXPECT_EQ(PeriodAdd(D(2024, 2, 28), Period::kDay, 1), D(2024, 2, 29));
    EXPECT_EQ(PeriodAdd(D(2023, 2, 28), Period::kDay, 1), D(2023, 3, 1));
    EXPECT_EQ(PeriodAdd(D(2025, 12, 29), Period::kWeek, 1), D(2026, 1, 5));
    // Month lengths come from the calendar, leap Februaries included.
    EXPECT_EQ(PeriodRange(D(2024, 2, 1), Period::kMonth).hi -
                  PeriodRange(D(2024, 2, 1), Period::kMonth).lo,
              29 * kMicrosPerDay);
    EXPECT_EQ(PeriodRange(D(2100, 2, 1), Period::kMonth).hi -
                  PeriodRange(D(2100, 2, 1), Period::kMonth).lo,
              28 * kMicrosPerDay);
}

TEST(PartitionTime, Suffixes) {
    EXPECT_EQ(PeriodSuffix(D(2026, 1, 1), Period::kMonth), "2026_01");
    EXPECT_EQ(PeriodSuffix(D(2026, 1, 15), Period::kDay), "2026_01_15");
    EXPECT_EQ(PeriodSuffix(D(2026, 4, 1), Period::kQuarter), "2026_q2");
    EXPECT_EQ(PeriodSuffix(D(2026, 1, 1), Period::kYear), "2026");
    EXPECT_EQ(PeriodSuffix(D(999, 1, 1), Period::kYear), "0999");
}

TEST(PartitionTime, NamesStayWithinNamedatalen) {
    EXPECT_EQ(PartitionName("audit_events", "2026_01"), "audit_events_2026_01");
    std::string long_ascii(70, 'a');
    std::string n = PartitionName(long_ascii, "2026_01");
    EXPECT_EQ(n.size(), 63u);
    EXPECT_EQ(n.substr(n.size() - 8), "_2026_01");
    // A name of 2-byte letters is clipped on a character boundary.
    std::string cyr;
    for (int i = 0; i < 40; i++)
        cyr += "\xd0\xb6";  // 80 bytes of Cyrillic zhe
    std::string c = PartitionName(cyr, "2026_01");
    EXPECT_LE(c.size(), 63u);
    EXPECT_EQ(c.substr(c.size() - 8), "_2026_01");
    EXPECT_EQ((c.size() - 8) % 2, 0u);
    // Three-byte CJK letters too.
    std::string cjk;
    for (int i = 0; i < 30; i++)
        cjk += "\xe5\xae\xa1";  // 审
    std::string k = PartitionName(cjk, "2026_w01");
    EXPECT_LE(k.size(), 63u);
    EXPECT_EQ((k.size() - 9) % 3, 0u);
    // Quotes, spaces and semicolons are kept as they are (the SQL side quotes them).
    EXPECT_EQ(PartitionName("x\"; DROP TABLE y", "2026"), "x\"; DROP TABLE y_2026");
    EXPECT_EQ(ClipUtf8("ab", 5), 2u);
}

TEST(PartitionTime, BoundLiteralsPerKeyType) {
    EXPECT_EQ(BoundLiteral(D(2026, 2, 1), KeyType::kDate), "2026-02-01");
    EXPECT_EQ(BoundLiteral(D(2026, 2, 1), KeyType::kTimestamp), "2026-02-01 00:00:00");
    EXPECT_EQ(BoundLiteral(D(2026, 2, 1), KeyType::kTimestamptz), "2026-02-01 00:00:00+00");
    try {
        BoundLiteral(D(10000, 1, 1), KeyType::kDate);
        FAIL() << "expected an error";
    } catch (const KeelException& e) {
        EXPECT_EQ(e.error().kind, ErrorKind::kProgramLimit);
    }
    EXPECT_EQ(FormatPoint(At(2026, 1, 5, 13, 4, 5), KeyType::kTimestamp), "2026-01-05 13:04:05");
    EXPECT_EQ(FormatPoint(At(2026, 1, 5) + 250000, KeyType::kTimestamptz),
              "2026-01-05 00:00:00.250000+00");
    EXPECT_EQ(FormatPoint(kMinusInfinity, KeyType::kDate), "MINVALUE");
}

TEST(PartitionTime, SubtractIntervalFollowsPostgres) {
    // '2026-03-31' - '1 month' = '2026-02-28' (clamped), as PostgreSQL does.
    EXPECT_EQ(SubtractInterval(At(2026, 3, 31, 12), {1, 0, 0}), At(2026, 2, 28, 12));
    EXPECT_EQ(SubtractInterval(At(2024, 3, 31), {1, 0, 0}), At(2024, 2, 29));
    EXPECT_EQ(SubtractInterval(At(2026, 1, 15), {6, 0, 0}), At(2025, 7, 15));
    EXPECT_EQ(SubtractInterval(At(2026, 1, 15), {0, 20, 0}), At(2025, 12, 26));
    EXPECT_EQ(SubtractInterval(At(2026, 1, 1), {0, 0, 3600LL * 1000000}), At(2025, 12, 31, 23));
    EXPECT_EQ(SubtractInterval(At(2026, 1, 15), {-1, 0, 0}), At(2026, 2, 15));
}

TEST(PartitionTime, RetentionAtLeastOnePeriod) {
    EXPECT_TRUE(AtLeastOnePeriod({1, 0, 0}, Period::kMonth));
    EXPECT_TRUE(AtLeastOnePeriod({0, 30, 0}, Period::kMonth));
    EXPECT_FALSE(AtLeastOnePeriod({0, 29, 0}, Period::kMonth));
    EXPECT_FALSE(AtLeastOnePeriod({0, 6, 0}, Period::kWeek));
    EXPECT_TRUE(AtLeastOnePeriod({0, 0, 24LL * 3600 * 1000000}, Period::kDay));
    EXPECT_FALSE(AtLeastOnePeriod({2, 0, 0}, Period::kQuarter));
    EXPECT_TRUE(AtLeastOnePeriod({12, 0, 0}, Period::kYear));
    EXPECT_FALSE(AtLeastOnePeriod({11, 0, 0}, Period::kYear));
    EXPECT_FALSE(AtLeastOnePeriod({-1, 0, 0}, Period::kDay));
}

TEST(PartitionTime, CoverageFreeCoveredPartial) {
    Range jan = PeriodRange(D(2026, 1, 1), Period::kMonth);
    std::vector<Existing> none;
    EXPECT_EQ(CoverageOf(jan, none), Coverage::kFree);
    std::vector<Existing> exact{{jan, 0}};
    EXPECT_EQ(CoverageOf(jan, exact), Coverage::kCovered);
    std::vector<Existing> halves{{{jan.lo, At(2026, 1, 15)}, 0}, {{At(2026, 1, 15), jan.hi}, 1}};
    EXPECT_EQ(CoverageOf(jan, halves), Coverage::kCovered);
    std::vector<Existing> year{{PeriodRange(D(2026, 1, 1), Period::kYear), 7}};
    EXPECT_EQ(CoverageOf(jan, year), Coverage::kCovered);
    std::vector<size_t> ids;
    std::vector<Existing> skew{{{At(2025, 12, 15), At(2026, 1, 15)}, 3}};
    EXPECT_EQ(CoverageOf(jan, skew, &ids), Coverage::kPartial);
    EXPECT_EQ(ids, std::vector<size_t>{3});
    std::vector<Existing> unbounded{{{kMinusInfinity, At(2026, 1, 10)}, 4}};
    EXPECT_EQ(CoverageOf(jan, unbounded), Coverage::kPartial);
    std::vector<Existing> all{{{kMinusInfinity, kPlusInfinity}, 5}};
    EXPECT_EQ(CoverageOf(jan, all), Coverage::kCovered);
}

TEST(PartitionTime, PlanCreatesAheadAndBack) {
    PlanInput in;
    in.period = Period::kMonth;
    in.premake = 3;
    in.start_back = 2;
    in.as_of = At(2026, 1, 31, 23, 59, 59);  // the last second of January
    Plan p = MakePlan(in);
    std::vector<int64_t> want{D(2025, 11, 1), D(2025, 12, 1), D(2026, 1, 1),
                              D(2026, 2, 1),  D(2026, 3, 1),  D(2026, 4, 1)};
    EXPECT_EQ(p.create, want);
    EXPECT_TRUE(p.retire.empty());
    EXPECT_FALSE(p.cutoff.has_value());

    // With those partitions in place the plan is empty: idempotent.
    for (size_t i = 0; i < want.size(); i++)
        in.partitions.push_back({PeriodRange(want[i], Period::kMonth), i});
    Plan again = MakePlan(in);
    EXPECT_TRUE(again.create.empty());
    EXPECT_TRUE(again.conflicts.empty());
}

TEST(PartitionTime, PlanRetiresWhollyOlderOnly) {
    PlanInput in;
    in.period = Period::kMonth;
    in.premake = 0;
    in.retention = IntervalValue{2, 0, 0};
    in.as_of = At(2026, 5, 20);  // cutoff 2026-03-20
    for (int m = 1; m <= 5; m++)
        in.partitions.push_back({PeriodRange(D(2026, m, 1), Period::kMonth), size_t(m)});
    in.partitions.push_back({{kMinusInfinity, At(2025, 6, 1)}, 99});  // a MINVALUE catch-all
    in.partitions.push_back({{At(2027, 1, 1), kPlusInfinity}, 100});  // a MAXVALUE catch-all
    Plan p = MakePlan(in);
    ASSERT_TRUE(p.cutoff.has_value());
    EXPECT_EQ(*p.cutoff, At(2026, 3, 20));
    // January and February end before the cutoff; March straddles it and stays.
    EXPECT_EQ(p.retire, (std::vector<size_t>{99, 1, 2}));
    EXPECT_TRUE(p.create.empty());
}

TEST(PartitionTime, PlanSkipsBackPeriodsRetentionWouldDrop) {
    PlanInput in;
    in.period = Period::kMonth;
    in.premake = 1;
    in.start_back = 12;
    in.retention = IntervalValue{6, 0, 0};
    in.as_of = At(2026, 5, 20);
    Plan p = MakePlan(in);
    // Cutoff 2025-11-20: November 2025 (ends Dec 1) is the oldest made.
    ASSERT_FALSE(p.create.empty());
    EXPECT_EQ(p.create.front(), D(2025, 11, 1));
    EXPECT_EQ(p.create.back(), D(2026, 6, 1));
}

TEST(PartitionTime, PlanReportsPartialOverlapAsConflict) {
    PlanInput in;
    in.period = Period::kMonth;
    in.premake = 2;
    in.as_of = At(2026, 1, 10);
    in.partitions.push_back({{At(2026, 1, 15), At(2026, 2, 15)}, 42});  // hand-made, skewed
    Plan p = MakePlan(in);
    EXPECT_EQ(p.create, std::vector<int64_t>{D(2026, 3, 1)});
    ASSERT_EQ(p.conflicts.size(), 2u);
    EXPECT_EQ(p.conflicts[0].start_day, D(2026, 1, 1));
    EXPECT_EQ(p.conflicts[0].overlapping, std::vector<size_t>{42});
    EXPECT_EQ(p.conflicts[1].start_day, D(2026, 2, 1));
}

TEST(PartitionTime, PlanForEveryPeriodKind) {
    PlanInput in;
    in.premake = 1;
    in.as_of = At(2024, 2, 29, 12);
    in.period = Period::kDay;
    EXPECT_EQ(MakePlan(in).create, (std::vector<int64_t>{D(2024, 2, 29), D(2024, 3, 1)}));
    in.period = Period::kWeek;
    EXPECT_EQ(MakePlan(in).create, (std::vector<int64_t>{D(2024, 2, 26), D(2024, 3, 4)}));
    in.period = Period::kQuarter;
    EXPECT_EQ(MakePlan(in).create, (std::vector<int64_t>{D(2024, 1, 1), D(2024, 4, 1)}));
    in.period = Period::kYear;
    EXPECT_EQ(MakePlan(in).create, (std::vector<int64_t>{D(2024, 1, 1), D(2025, 1, 1)}));
}
