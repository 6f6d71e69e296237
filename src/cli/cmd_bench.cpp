// thoth bench: the engine's speed on this machine, stage by stage (load, mel, encoder window,
// decoder token), end to end on an audio file, with peak memory and the encoder's achieved
// GFLOP/s next to the machine's theoretical peak. Several models run one per child process so
// each one's peak RSS is its own.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "asr/profile.h"
#include "asr/whisper.h"
#include "audio/audio_file.h"
#include "cli/commands.h"
#include "models/lookup.h"

namespace thoth::cli {

namespace {

using nlohmann::json;

struct BenchArgs {
  std::vector<std::string> models;
  int threads = 0;
  bool json = false;
  std::string audio;
  int windows = 2;
  int tokens = 32;
  std::string rss_audio;  // transcribed in a fresh process of its own for the peak RSS
  bool internal_child = false;
  bool internal_rss = false;
};

int resolve_threads(int n) {
  if (n > 0) return n;
  const long hw = sysconf(_SC_NPROCESSORS_ONLN);
  return static_cast<int>(std::clamp<long>(hw, 1, 8));
}

// Peak resident set of this process so far, in MB (VmHWM).
double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// A test tone for the mel stage when no audio is given (mel cost does not depend on content).
std::vector<float> tone(size_t n) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = 0.3f * std::sin(static_cast<float>(i) * 0.0785f);
  return x;
}

// The app's decoding defaults, without the temperature fallback: a model with random weights
// would retry every window at five temperatures and measure that instead.
asr::TranscribeOptions bench_decoding(int threads) {
  asr::TranscribeOptions opts;
  opts.n_threads = threads;
  opts.temperature_fallback = false;
  return opts;
}

Result<json> bench_model(const std::string& name, const BenchArgs& a, const asr::MachineInfo& machine) {
  auto path = models::resolve_model(name);
  if (!path) return make_error(path.error());
  auto model = asr::Model::load(*path);
  if (!model) return make_error(model.error());
  const asr::ModelInfo info = (*model)->info();

  std::vector<float> audio;
  if (!a.audio.empty()) {
    auto loaded = audio::load_audio_16k_mono(a.audio);
    if (!loaded) return make_error(loaded.error());
    audio = std::move(*loaded);
  }
  const std::vector<float> mel_input = audio.empty() ? tone(30 * 16000) : audio;

  asr::StageProfileOptions po;
  po.n_threads = resolve_threads(a.threads);
  po.windows = a.windows;
  po.tokens = a.tokens;
  auto prof = asr::profile_stages(*model, mel_input.data(), mel_input.size(), po);
  if (!prof) return make_error(prof.error());

  json j;
  j["model"] = *path;
  j["type"] = info.type_name;
  j["weights"] = info.weight_type;
  j["threads"] = po.n_threads;
  j["load_ms"] = (*model)->load_ms();
  j["mel_ms"] = prof->mel_ms;
  j["encoder_ms"] = prof->encode_ms_mean;
  j["encoder_ms_min"] = prof->encode_ms_min;
  j["encoder_windows"] = po.windows;
  j["encoder_gflop"] = prof->encode_gflop;
  const double gflops = prof->encode_gflop / (prof->encode_ms_mean * 1e-3);
  j["encoder_gflops"] = gflops;
  const double peak = machine.core_peak_gflops * std::min(po.n_threads, machine.cores);
  j["encoder_peak_percent"] = peak > 0 ? 100.0 * gflops / peak : 0.0;
  j["decoder_ms_per_token"] = prof->decode_ms_per_token;
  j["decoder_tokens"] = po.tokens;
  j["decoder_kv_cells"] = prof->kv_cells;
  j["decoder_bytes_per_token"] = prof->decode_bytes_per_token;
  j["decoder_gb_per_s"] = prof->decode_bytes_per_token / (prof->decode_ms_per_token * 1e-3) * 1e-9;

  if (!audio.empty()) {
    const asr::TranscribeOptions opts = bench_decoding(po.n_threads);
    asr::Session session(*model);
    const auto t0 = std::chrono::steady_clock::now();
    auto tr = session.transcribe(audio.data(), audio.size(), opts);
    const double wall = ms_since(t0);
    if (!tr) return make_error(a.audio + ": " + tr.error());
    size_t tokens = 0;
    for (const auto& s : tr->segments) tokens += s.tokens.size();
    const double audio_s = static_cast<double>(audio.size()) / 16000.0;
    j["e2e"] = {{"audio", a.audio},        {"audio_s", audio_s},
                {"wall_ms", wall},         {"rtf", wall * 1e-3 / audio_s},
                {"tokens", tokens},        {"beam_size", opts.beam_size},
                {"encode_ms", tr->timings.encode_ms}, {"decode_ms", tr->timings.decode_ms}};
  } else {
    j["e2e"] = nullptr;
  }
  j["peak_rss_mb"] = peak_rss_mb();
  return j;
}

// The peak resident set of a process that loads the model and transcribes one file with the
// benchmark's decoding (bench_decoding: beam 5): what a dictation costs in
// memory, without the benchmark's own stages.
Result<json> transcription_rss(const std::string& name, const BenchArgs& a) {
  auto path = models::resolve_model(name);
  if (!path) return make_error(path.error());
  auto model = asr::Model::load(*path);
  if (!model) return make_error(model.error());
  auto audio = audio::load_audio_16k_mono(a.rss_audio);
  if (!audio) return make_error(audio.error());
  asr::Session session(*model);
  auto tr = session.transcribe(audio->data(), audio->size(), bench_decoding(a.threads));
  if (!tr) return make_error(a.rss_audio + ": " + tr.error());
  return json{{"peak_rss_mb", peak_rss_mb()}};
}

// Runs this same binary as `thoth bench --internal-child --model NAME ...` (or with
// --internal-rss) and parses the model's JSON object from its standard output.
Result<json> bench_in_child(const std::string& name, const BenchArgs& a, bool rss_only = false) {
  std::vector<std::string> args = {"/proc/self/exe", "bench", rss_only ? "--internal-rss" : "--internal-child",
                                   "--model", name, "--threads", std::to_string(a.threads),
                                   "--windows", std::to_string(a.windows), "--tokens", std::to_string(a.tokens)};
  if (!a.audio.empty()) args.insert(args.end(), {"--audio", a.audio});
  if (!a.rss_audio.empty()) args.insert(args.end(), {"--rss-audio", a.rss_audio});
  int fds[2];
  if (pipe(fds) != 0) return make_error("bench: cannot create a pipe");
  const pid_t pid = fork();
  if (pid < 0) return make_error("bench: cannot start a child process");
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return make_error(name + ": benchmark failed (see the message above)");
  try {
    return json::parse(out);
  } catch (const json::exception&) {
    return make_error(name + ": benchmark child printed no result");
  }
}

json machine_json(const asr::MachineInfo& m) {
  return {{"cpu_model", m.cpu_model},     {"kernels", m.kernels},
          {"isa", m.isa},                 {"cores", m.cores},
          {"logical_cpus", m.logical_cpus}, {"clock_ghz", m.clock_ghz},
          {"clock_source", m.clock_source}, {"f32_lanes", m.f32_lanes},
          {"fma_units", m.fma_units},     {"peak_gflops", m.peak_gflops},
          {"core_peak_gflops", m.core_peak_gflops}};
}

void print_text(const json& machine, const json& models, int threads) {
  std::printf("CPU:     %s (%d cores, %d logical CPUs available)\n", machine["cpu_model"].get<std::string>().c_str(),
              machine["cores"].get<int>(), machine["logical_cpus"].get<int>());
  std::printf("Kernels: %s (%s)\n", machine["kernels"].get<std::string>().c_str(),
              machine["isa"].get<std::string>().c_str());
  std::printf("Peak:    %.1f GFLOP/s f32 = %d cores x %d lanes x %d FMA units x 2 flops x %.3f GHz (%s)\n",
              machine["peak_gflops"].get<double>(), machine["cores"].get<int>(), machine["f32_lanes"].get<int>(),
              machine["fma_units"].get<int>(), machine["clock_ghz"].get<double>(),
              machine["clock_source"].get<std::string>().c_str());
  std::printf("Memory:  %.1f GB/s read with %d threads (a buffer 8x the last-level cache, summed)\n",
              machine["memory_read_gb_per_s"].get<double>(), threads);
  std::printf("Threads: %d\n\n", threads);
  std::printf("%-22s %8s %7s %12s %9s %6s %11s %8s %6s %7s %8s\n", "model", "load ms", "mel ms", "enc ms/30s",
              "enc GF/s", "%peak", "dec ms/tok", "dec GB/s", "%bw", "RTF", "RSS MB");
  for (const auto& m : models) {
    std::string name = m["model"].get<std::string>();
    name = name.substr(name.find_last_of('/') + 1);
    char rtf[32] = "-";
    if (!m["e2e"].is_null()) std::snprintf(rtf, sizeof rtf, "%.3f", m["e2e"]["rtf"].get<double>());
    const bool own = m.contains("transcription_rss_mb");
    std::printf("%-22s %8.1f %7.1f %12.1f %9.1f %6.1f %11.2f %8.1f %6.1f %7s %8.1f\n", name.c_str(),
                m["load_ms"].get<double>(), m["mel_ms"].get<double>(), m["encoder_ms"].get<double>(),
                m["encoder_gflops"].get<double>(), m["encoder_peak_percent"].get<double>(),
                m["decoder_ms_per_token"].get<double>(), m["decoder_gb_per_s"].get<double>(),
                m["decoder_bandwidth_percent"].get<double>(), rtf, m[own ? "transcription_rss_mb" : "peak_rss_mb"].get<double>());
  }
  const bool own = !models.empty() && models[0].contains("transcription_rss_mb");
  std::printf("\nenc: mean of the timed windows after a warm-up, cross-attention K/V included; dec: one token with\n"
              "the self-attention cache full (text context); dec GB/s: what that step reads (weights, token\n"
              "embedding, K/V caches) per second, %%bw: against reading a buffer of the step's size in this run\n"
              "(a step is memory-bound: that is its floor, from whichever cache level or DRAM holds such a working set);\n"
              "RTF: wall time / audio length of a transcription (beam 5, no temperature fallback), excluding load;\n"
              "RSS: %s.\n",
              own ? ("peak resident set of a process transcribing " + models[0]["transcription_rss_audio"].get<std::string>() +
                     " alone (beam 5)").c_str()
                  : "peak resident set of the model's benchmark process");
}

int run(BenchArgs a) {
  a.threads = resolve_threads(a.threads);
  if (a.models.empty()) return exit_with(kExitUsage, "bench: name at least one model with --model; see thoth bench --help");
  const asr::MachineInfo machine = asr::machine_info();
  if (a.internal_rss) {
    auto r = transcription_rss(a.models.front(), a);
    if (!r) return exit_with(kExitFailure, r.error());
    std::printf("%s\n", r->dump().c_str());
    return 0;
  }
  if (a.internal_child) {
    auto r = bench_model(a.models.front(), a, machine);
    if (!r) return exit_with(kExitFailure, r.error());
    std::printf("%s\n", r->dump().c_str());
    return 0;
  }
  json results = json::array();
  for (const auto& name : a.models) {
    auto r = a.models.size() == 1 ? bench_model(name, a, machine) : bench_in_child(name, a);
    if (!r) return exit_with(kExitFailure, r.error());
    if (!a.rss_audio.empty()) {
      auto rss = bench_in_child(name, a, true);
      if (!rss) return exit_with(kExitFailure, rss.error());
      (*r)["transcription_rss_mb"] = (*rss)["peak_rss_mb"];
      (*r)["transcription_rss_audio"] = a.rss_audio;
    }
    results.push_back(std::move(*r));
    if (!a.json) std::fprintf(stderr, "thoth: benchmarked %s\n", name.c_str());
  }
  json mj = machine_json(machine);
  // After the models' runs: these buffers would count in a benchmark process's peak memory.
  mj["memory_read_gb_per_s"] = asr::memory_read_gbps(a.threads);
  // A step's floor: reading its bytes from where a working set of that size lives (a tiny or
  // base model stays in a large L3; DRAM's figure alone would put a step above 100 %).
  for (auto& r : results) {
    const double stream = asr::memory_read_gbps(a.threads, static_cast<size_t>(r["decoder_bytes_per_token"].get<double>()));
    r["decoder_stream_gb_per_s"] = stream;
    r["decoder_bandwidth_percent"] = 100.0 * r["decoder_gb_per_s"].get<double>() / stream;
  }
  if (a.json) {
    std::printf("%s\n", json{{"machine", mj}, {"models", results}}.dump(2).c_str());
  } else {
    print_text(mj, results, a.threads);
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, const GlobalOptions&) {
  auto* sub = app.add_subcommand("bench", "Measure the engine's speed on this machine, model by model");
  static BenchArgs a;
  sub->add_option("-m,--model", a.models, "Model file or name; repeat for several (each runs in its own process)");
  sub->add_option("-t,--threads", a.threads, "Threads (default: all cores, at most 8)")->check(CLI::Range(0, 64));
  sub->add_flag("--json", a.json, "Print the results as JSON");
  sub->add_option("--audio", a.audio, "Audio file to transcribe for the end-to-end real-time factor");
  sub->add_option("--windows", a.windows, "Timed encoder windows")->capture_default_str()->check(CLI::Range(1, 100));
  sub->add_option("--tokens", a.tokens, "Timed decoder tokens")->capture_default_str()->check(CLI::Range(1, 400));
  sub->add_option("--rss-audio", a.rss_audio,
                  "Audio file transcribed in a fresh process of its own for the peak RSS column (e.g. jfk.wav)");
  sub->add_flag("--internal-child", a.internal_child)->group("");
  sub->add_flag("--internal-rss", a.internal_rss)->group("");
  on_run(sub, [] { return run(a); });
}

}  // namespace thoth::cli
