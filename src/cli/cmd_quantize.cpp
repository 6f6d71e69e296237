// `thoth models quantize IN OUT TYPE`: writes a quantized copy of a Whisper model, byte for
// byte what the reference quantizer writes.
#include <cstdio>
#include <string>

#include "asr/quantize.h"
#include "cli/commands.h"

namespace thoth::cli {

namespace {

int run_quantize(const std::string& in, const std::string& out, const std::string& type_name) {
  auto type = asr::parse_quantization_type(type_name);
  if (!type.ok()) return exit_with(kExitUsage, type.error());
  auto report = asr::quantize_model_file(in, out, *type);
  if (!report.ok()) return exit_with(kExitFailure, report.error());
  std::printf("%s: %d tensors quantized to %s, %d kept, %.1f MB -> %.1f MB\n", out.c_str(),
              report->tensors_quantized, type_name.c_str(), report->tensors_copied,
              static_cast<double>(report->bytes_in) / 1e6, static_cast<double>(report->bytes_out) / 1e6);
  return 0;
}

}  // namespace

void add_models_quantize_command(CLI::App& app) {
  // `thoth models` belongs to the model manager; join it if it exists, else start it.
  CLI::App* models = nullptr;
  for (CLI::App* sub : app.get_subcommands([](CLI::App* s) { return s->get_name() == "models"; }))
    models = sub;
  if (models == nullptr) {
    models = app.add_subcommand("models", "Manage Whisper model files");
    models->require_subcommand(1);
  }
  static std::string in, out, type;
  auto* cmd = models->add_subcommand(
      "quantize", "Write a quantized copy of an f16/f32 model (as whisper.cpp's quantize does)");
  cmd->add_option("input", in, "Model file to read (f16 or f32)")->required();
  cmd->add_option("output", out, "Model file to write")->required();
  cmd->add_option("type", type, "q8_0, q5_0, q5_1, q4_0 or q4_1")->required();
  on_run(cmd, [] { return run_quantize(in, out, type); });
}

}  // namespace thoth::cli
