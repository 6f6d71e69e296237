#include "models/progress.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

namespace thoth::models {
namespace {
using Clock = ProgressPrinter::Clock;
using std::chrono::milliseconds;

std::string captured(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
  return s;
}

TEST(Progress, FormatsBytesAndEta) {
  EXPECT_EQ(format_bytes(999), "999 B");
  EXPECT_EQ(format_bytes(812000), "812 kB");
  EXPECT_EQ(format_bytes(147964211), "148.0 MB");
  EXPECT_EQ(format_bytes(1533774781), "1.53 GB");
  EXPECT_EQ(format_eta(42), "0:42");
  EXPECT_EQ(format_eta(725), "12:05");
  EXPECT_EQ(format_eta(3723), "1:02:03");
  EXPECT_EQ(format_eta(NAN), "--:--");
}

TEST(Progress, BarShowsBytesRateAndEta) {
  auto t0 = Clock::now();
  ProgressPrinter p(stderr, true, "ggml-base.en.bin", t0);
  // 40 MB of 100 MB in 4 s: 10 MB/s, 6 s left.
  auto line = p.line({40'000'000, 100'000'000, 0}, t0 + milliseconds(4000), true);
  EXPECT_EQ(line, "ggml-base.en.bin [############------------------]  40% 40.0 MB / 100.0 MB  10.0 MB/s  ETA 0:06");
}

TEST(Progress, RateCountsOnlyThisSessionsBytes) {
  auto t0 = Clock::now();
  ProgressPrinter p(stderr, true, "f", t0);
  // Resumed at 90 MB; 5 MB more in 1 s is 5 MB/s, not 95 MB/s.
  auto line = p.line({95'000'000, 100'000'000, 90'000'000}, t0 + milliseconds(1000), false);
  EXPECT_NE(line.find("5.0 MB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("ETA 0:01"), std::string::npos) << line;
  EXPECT_EQ(line.find('['), std::string::npos) << line;
}

TEST(Progress, PlainOutputPrintsALinePerTenth) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  auto t0 = Clock::now();
  ProgressPrinter p(f, false, "f", t0);
  for (std::uint64_t done = 0; done <= 1000; done += 5) p.update({done, 1000, 0}, t0 + milliseconds(done));
  p.finish();
  std::string out = captured(f);
  std::fclose(f);
  int lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 10) << out;  // 10%..100%, nothing for 0%
  EXPECT_EQ(out.find('\r'), std::string::npos);
  EXPECT_NE(out.find("f: 100% 1 kB / 1 kB"), std::string::npos) << out;
}

TEST(Progress, TerminalRedrawsInPlaceAtMostTenTimesASecond) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  auto t0 = Clock::now();
  ProgressPrinter p(f, true, "f", t0);
  // 1000 updates over 1 s.
  for (int i = 1; i <= 1000; ++i) p.update({static_cast<std::uint64_t>(i), 1000, 0}, t0 + milliseconds(i));
  p.finish();
  std::string out = captured(f);
  std::fclose(f);
  int draws = 0;
  for (char c : out) draws += c == '\r';
  EXPECT_GE(draws, 9);
  EXPECT_LE(draws, 12);
  EXPECT_EQ(out.back(), '\n');
  EXPECT_NE(out.find("100%"), std::string::npos);
}

}  // namespace
}  // namespace thoth::models
