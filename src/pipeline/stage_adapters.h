// The real stages behind the pipeline's interfaces: text filters (text/), the LLM
// enhancement clients (enhance/) and the SQLite history (store/), built from the config.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "enhance/enhancer.h"
#include "output/desktop_output.h"
#include "pipeline/stages.h"
#include "store/history.h"
#include "text/filter.h"

namespace thoth::pipeline {

class TextFilterStage final : public TextFilter {
 public:
  explicit TextFilterStage(text::TextFilter filter) : filter_(std::move(filter)) {}
  Result<std::string> apply(const std::string& text) override;
  const text::TextFilter& filter() const { return filter_; }

 private:
  text::TextFilter filter_;
};

class LlmEnhancer final : public Enhancer {
 public:
  // context: "none", "clipboard" or "primary" (the selection, read when the text is enhanced).
  LlmEnhancer(enhance::EndpointConfig endpoint, enhance::PromptTemplate tmpl,
              std::vector<std::string> vocabulary, std::string context = "none")
      : endpoint_(std::move(endpoint)), template_(std::move(tmpl)), vocabulary_(std::move(vocabulary)),
        context_(std::move(context)) {}
  Result<std::string> enhance(const std::string& text, const std::atomic<bool>& cancel) override;
  std::string model_name() const override { return endpoint_.model; }
  std::string prompt_name() const override { return template_.name; }

 private:
  enhance::EndpointConfig endpoint_;
  enhance::PromptTemplate template_;
  std::vector<std::string> vocabulary_;
  std::string context_;
};

// Types, pastes or leaves on the clipboard, by whatever works on the running desktop
// (output/desktop_output.h). Lives as long as the pipeline, so clipboard content it owns
// keeps being served.
class DesktopTextOutput final : public Output {
 public:
  static Result<std::shared_ptr<DesktopTextOutput>> create(output::DesktopOutputOptions options);
  Result<Delivery> deliver(const std::string& text, const std::atomic<bool>& cancel) override;
  std::string method_name() const override;

 private:
  explicit DesktopTextOutput(std::unique_ptr<output::DesktopOutput> out) : out_(std::move(out)) {}
  std::unique_ptr<output::DesktopOutput> out_;
};

// Typing ("type") or pasting ("paste") into the X11 display named, whatever the session.
std::shared_ptr<Output> x11_output(const std::string& display, const std::string& method = "type");

// The output options the config asks for (output.method, output.wayland_tool, ...).
output::DesktopOutputOptions output_options_from_config(const Config& config);

// Maps a run onto a history row: every outcome is stored, with its audio path and text.
store::HistoryEntry to_history_entry(const PipelineResult& result);

class HistoryStage final : public History {
 public:
  explicit HistoryStage(store::HistoryStore store) : store_(std::move(store)) {}
  Result<int64_t> record(const PipelineResult& result) override;

 private:
  store::HistoryStore store_;  // thread-safe; runs are serialised by the pipeline anyway
};

// Builds the filter, enhancer and history stages the config asks for (null when disabled).
// Errors name the config key or file at fault (a bad regex rule, an unknown template).
struct ConfiguredStages {
  std::shared_ptr<TextFilter> filter;
  std::shared_ptr<Enhancer> enhancer;
  std::shared_ptr<History> history;
};
Result<ConfiguredStages> stages_from_config(const Config& config);

}  // namespace thoth::pipeline
