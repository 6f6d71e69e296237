// The real stages behind the pipeline's interfaces: text filters (text/), the LLM
// enhancement clients (enhance/) and the SQLite history (store/), built from the config.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "enhance/enhancer.h"
#include "output/x11_clipboard.h"
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
  LlmEnhancer(enhance::EndpointConfig endpoint, enhance::PromptTemplate tmpl,
              std::vector<std::string> vocabulary)
      : endpoint_(std::move(endpoint)), template_(std::move(tmpl)), vocabulary_(std::move(vocabulary)) {}
  Result<std::string> enhance(const std::string& text, const std::atomic<bool>& cancel) override;
  std::string model_name() const override { return endpoint_.model; }
  std::string prompt_name() const override { return template_.name; }

 private:
  enhance::EndpointConfig endpoint_;
  enhance::PromptTemplate template_;
  std::vector<std::string> vocabulary_;
};

// Types at the cursor of the focused X11 window (XTest, any Unicode character).
class X11TypingOutput final : public Output {
 public:
  explicit X11TypingOutput(std::string display = "") : display_(std::move(display)) {}
  Result<void> deliver(const std::string& text, const std::atomic<bool>& cancel) override;
  std::string method_name() const override { return "x11-type"; }

 private:
  std::string display_;
};

// Pastes through the X11 CLIPBOARD (Ctrl+V, or Ctrl+Shift+V for terminals) and puts the
// previous clipboard back. The clipboard object lives as long as this stage, so restored
// content keeps being served.
class X11PasteOutput final : public Output {
 public:
  explicit X11PasteOutput(std::string display = "", bool shift = false)
      : display_(std::move(display)), shift_(shift) {}
  Result<void> deliver(const std::string& text, const std::atomic<bool>& cancel) override;
  std::string method_name() const override { return "x11-paste"; }

 private:
  std::string display_;
  bool shift_;
  std::unique_ptr<output::X11Clipboard> clipboard_;
};

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
