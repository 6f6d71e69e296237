// Matrix-product throughput per weight type and kernel variant on Whisper-tiny shapes:
// encoder-like (1500 activation rows), decoder-like (1 row, incl. the 51864-way logits) and
// beam search's (5 rows); q5_1 and q8_0 weights with the interleaved copy a model's decoder reads.
// Prints GFLOP/s per case, then the speed-up of the best variant over scalar.
#include <benchmark/benchmark.h>

#include <time.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "asr/kernels.h"
#include "asr/matmul.h"
#include "asr/quantize.h"
#include "asr/thread_pool.h"

namespace {

using thoth::asr::MatrixView;
using thoth::asr::TensorType;

constexpr int kThreads = 2;

struct Shape {
  const char* name;
  int64_t n, k, m;  // activation rows, inner size, weight rows
};
const Shape kShapes[] = {
    {"enc_1500x384x384", 1500, 384, 384},
    {"enc_1500x1536x384", 1500, 1536, 384},
    {"enc_1500x384x1536_mlp0", 1500, 384, 1536},
    {"conv1_3000x240x384", 3000, 240, 384},
    {"conv2_1500x1152x384", 1500, 1152, 384},
    {"dec_1x384x384", 1, 384, 384},
    {"dec_1x384x51864_logits", 1, 384, 51864},
    {"beam_5x384x51864_logits", 5, 384, 51864},
};
const TensorType kTypes[] = {TensorType::F32,  TensorType::F16,  TensorType::Q8_0, TensorType::Q5_1,
                             TensorType::Q5_0, TensorType::Q4_1, TensorType::Q4_0};

struct Weights {
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> interleaved;  // q5_1, q8_0: as a model's decoder matrices
  MatrixView view;
};

const Weights& weights(TensorType type, int64_t m, int64_t k) {
  static std::map<std::tuple<int, int64_t, int64_t>, Weights> cache;
  auto key = std::make_tuple(static_cast<int>(type), m, k);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  Weights w;
  const size_t rb = thoth::asr::row_bytes(type, k);
  w.bytes.resize(rb * m);
  std::vector<float> row(k);
  for (int64_t r = 0; r < m; ++r) {
    for (auto& v : row) v = normal(rng);
    thoth::asr::quantize_row_reference(type, row.data(), w.bytes.data() + r * rb, k);
  }
  w.view = {type, w.bytes.data(), m, k, rb};
  // A q5_1 or q8_0 model's decoder steps read their rows interleaved by fours where the
  // variant can: so do the decoder-shaped cases here.
  if (type == TensorType::Q5_1 || type == TensorType::Q8_0) {
    w.interleaved.resize(static_cast<size_t>(m / 4) * 4 * rb);
    thoth::asr::kernels::interleave_rows(type, w.bytes.data(), rb, m / 4, k, w.interleaved.data());
    w.view.interleaved = w.interleaved.data();
  }
  return cache.emplace(key, std::move(w)).first->second;
}

void bm_matmul(benchmark::State& state, std::string variant, TensorType type, Shape shape) {
  if (auto r = thoth::asr::select_kernels(variant); !r.ok()) {
    state.SkipWithError(r.error().c_str());
    return;
  }
  static thoth::asr::ThreadPool pool(kThreads);
  const Weights& w = weights(type, shape.m, shape.k);
  std::vector<float> x(shape.n * shape.k), y(shape.n * shape.m);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (auto& v : x) v = normal(rng);
  timespec c0{}, c1{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  for (auto _ : state) {
    thoth::asr::matmul(w.view, x.data(), shape.n, shape.k, y.data(), shape.m, pool);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  const double flops = 2.0 * shape.n * shape.k * shape.m;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  // Per CPU-second of all threads: meaningful even when other processes share the cores.
  const double cpu_s = static_cast<double>(c1.tv_sec - c0.tv_sec) + 1e-9 * static_cast<double>(c1.tv_nsec - c0.tv_nsec);
  state.counters["GFLOP/cpu-s"] = flops * 1e-9 * static_cast<double>(state.iterations()) / cpu_s;
}

// Keeps each case's GFLOP/s to print the scalar-vs-best table at the end.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, std::map<std::string, double>> gflops;  // case -> variant -> GFLOP/s
  std::map<std::string, std::map<std::string, double>> per_cpu;  // ... per CPU-second
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      if (run.error_occurred) continue;
      const std::string name = run.benchmark_name();  // matmul/<variant>/<type>/<shape>/...
      const auto a = name.find('/'), b = name.find('/', a + 1);
      const auto c = name.find('/', name.find('/', b + 1) + 1);
      auto it = run.counters.find("GFLOP/s");
      auto cpu = run.counters.find("GFLOP/cpu-s");
      if (it == run.counters.end() || cpu == run.counters.end()) continue;
      gflops[name.substr(b + 1, c - b - 1)][name.substr(a + 1, b - a - 1)] = it->second.value;
      per_cpu[name.substr(b + 1, c - b - 1)][name.substr(a + 1, b - a - 1)] = cpu->second.value;
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  const auto variants = thoth::asr::available_kernels();
  for (const auto& v : variants)
    for (TensorType t : kTypes)
      for (const Shape& s : kShapes)
        benchmark::RegisterBenchmark(
            ("matmul/" + v + "/" + thoth::asr::type_name(t) + "/" + s.name).c_str(), bm_matmul, v, t, s)
            ->UseRealTime()
            ->MinTime(0.2)
            ->Unit(benchmark::kMillisecond);
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::printf("\n%d threads; variants on this CPU: ", kThreads);
  for (const auto& v : variants) std::printf("%s ", v.c_str());
  std::printf("\nGFLOP/s (wall clock; GFLOP per CPU-second in brackets)\n");
  std::printf("%-30s %16s %16s %-8s %8s\n", "case", "scalar", "best", "variant", "speed-up");
  for (const auto& [name, by_variant] : reporter.gflops) {
    auto scalar = by_variant.find("scalar");
    std::string best_name;
    double best = 0;
    for (const auto& [v, g] : by_variant)
      if (g > best) {
        best = g;
        best_name = v;
      }
    if (scalar == by_variant.end()) continue;
    const auto& cpu = reporter.per_cpu[name];
    std::printf("%-30s %6.2f [%6.2f] %6.2f [%6.2f] %-8s %7.1fx\n", name.c_str(), scalar->second,
                cpu.at("scalar"), best, cpu.at(best_name), best_name.c_str(), best / scalar->second);
  }
  benchmark::Shutdown();
  return 0;
}
