// `thoth models quantize` end to end: the real binary on the shared f16 model.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/wait.h>

#include "support/shared_data.h"

namespace {

struct CliRun {
  int status = -1;
  std::string out, err;
};

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

CliRun run_thoth(const std::string& args) {
  thoth::test::ScratchDir dir;
  const auto err_file = dir / "stderr";
  const std::string cmd = quote(thoth::test::thoth_binary().string()) + " " + args + " 2>" +
                          quote(err_file.string());
  CliRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream e(err_file);
  std::stringstream ss;
  ss << e.rdbuf();
  r.err = ss.str();
  return r;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(CmdModelsQuantize, WritesTheReferenceQ5_1File) {
  thoth::test::ScratchDir dir;
  const auto in = thoth::test::shared_file("models/mini.en-f16.bin");
  const auto want = thoth::test::shared_file("models/mini.en-q5_1.bin");
  const auto out = dir / "q.bin";
  const CliRun r = run_thoth("models quantize " + quote(in.string()) + " " + quote(out.string()) + " q5_1");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("quantized to q5_1"), std::string::npos) << r.out;
  EXPECT_TRUE(slurp(out) == slurp(want)) << "output differs from " << want;
}

TEST(CmdModelsQuantize, UnknownTypeIsAUsageError) {
  thoth::test::ScratchDir dir;
  const auto in = thoth::test::shared_file("models/mini.en-f16.bin");
  const CliRun r = run_thoth("models quantize " + quote(in.string()) + " " + quote((dir / "q.bin").string()) + " q2_k");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("unknown quantization type 'q2_k'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "q.bin"));
}

TEST(CmdModelsQuantize, BadPathsAreNamedInOneLine) {
  thoth::test::ScratchDir dir;
  const auto in = thoth::test::shared_file("models/mini.en-f16.bin");
  CliRun r = run_thoth("models quantize " + quote((dir / "absent.bin").string()) + " " +
                       quote((dir / "q.bin").string()) + " q8_0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("absent.bin: no such model file"), std::string::npos) << r.err;
  r = run_thoth("models quantize " + quote(in.string()) + " " + quote((dir / "no" / "q.bin").string()) + " q8_0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(CmdModelsQuantize, MissingArgumentsAreAUsageError) {
  const CliRun r = run_thoth("models quantize onlyone.bin");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("thoth models quantize --help"), std::string::npos) << r.err;
}

}  // namespace
