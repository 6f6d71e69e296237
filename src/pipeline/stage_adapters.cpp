#include "pipeline/stage_adapters.h"

#include "core/paths.h"
#include "enhance/prompt.h"

namespace thoth::pipeline {

Result<std::string> TextFilterStage::apply(const std::string& text) {
  // Skipped rules are reported by the filter but never fatal; the text goes on.
  return filter_.apply(text).text;
}

Result<std::string> LlmEnhancer::enhance(const std::string& text, const std::atomic<bool>& cancel) {
  enhance::PromptInputs inputs;
  inputs.text = text;
  inputs.vocabulary = vocabulary_;
  if (context_ == "clipboard" || context_ == "primary")
    inputs.context = output::read_selection(context_ == "primary").value_or("");
  auto r = enhance::enhance_text(endpoint_, template_, inputs, cancel);
  if (!r) return make_error(r.error());
  return r->text;
}

Result<std::shared_ptr<DesktopTextOutput>> DesktopTextOutput::create(output::DesktopOutputOptions options) {
  auto out = output::DesktopOutput::create(std::move(options));
  if (!out) return make_error(out.error());
  return std::shared_ptr<DesktopTextOutput>(new DesktopTextOutput(std::move(*out)));
}

Result<Delivery> DesktopTextOutput::deliver(const std::string& text, const std::atomic<bool>& cancel) {
  auto d = out_->deliver(text, cancel);
  if (!d) return make_error(d.error());
  return Delivery{d->method, d->failures};
}

std::string DesktopTextOutput::method_name() const {
  std::string names;
  for (const auto& n : out_->plan()) names += (names.empty() ? "" : ", ") + n;
  return names.empty() ? "no output method" : names;
}

std::shared_ptr<Output> x11_output(const std::string& display, const std::string& method) {
  output::DesktopOutputOptions o;
  o.method = method;
  o.x11_display = display;
  auto out = DesktopTextOutput::create(o);
  return out ? *out : nullptr;  // only an unknown method fails, which is a bug of the caller
}

output::DesktopOutputOptions output_options_from_config(const Config& config) {
  output::DesktopOutputOptions o;
  o.method = config.output.method;
  o.wayland_tool = config.output.wayland_tool;
  o.paste_shift = config.output.paste_shortcut == "Ctrl+Shift+V";
  o.restore_clipboard = config.output.restore_clipboard;
  return o;
}

store::HistoryEntry to_history_entry(const PipelineResult& r) {
  store::HistoryEntry e;
  e.created_at_ms = r.created_at_ms;
  e.text = r.text;
  e.raw_text = r.raw_text;
  e.audio_duration_s = r.audio_seconds;
  e.audio_path = r.audio_path;
  e.enhanced = r.enhanced;
  e.enhancement_prompt = r.enhancement_prompt;
  e.transcription_model = r.transcription_model;
  e.enhancement_model = r.enhancement_model;
  auto ms = [](double v) { return std::optional<int64_t>(int64_t(v + 0.5)); };
  e.durations.record_ms = ms(r.timings.recording_ms);
  if (r.timings.transcribe_ms > 0) e.durations.transcribe_ms = ms(r.timings.transcribe_ms);
  if (r.filtered) e.durations.filter_ms = ms(r.timings.filter_ms);
  if (!r.enhancement_model.empty()) e.durations.enhance_ms = ms(r.timings.enhance_ms);
  if (!r.output_method.empty()) e.durations.output_ms = ms(r.timings.output_ms);
  if (r.cancelled) e.status = store::DictationStatus::cancelled;
  else if (r.final_state == PipelineState::Failed) e.status = store::DictationStatus::failed;
  else if (r.no_speech) e.status = store::DictationStatus::no_speech;
  else e.status = store::DictationStatus::completed;
  e.error = r.error;
  for (const auto& w : r.warnings) e.error += (e.error.empty() ? "" : "; ") + w;
  return e;
}

Result<int64_t> HistoryStage::record(const PipelineResult& result) {
  return store_.add(to_history_entry(result));
}

Result<ConfiguredStages> stages_from_config(const Config& config) {
  ConfiguredStages out;
  std::vector<std::string> vocabulary;
  if (config.filters.enabled) {
    text::TextFilterOptions o;
    o.remove_fillers = config.filters.remove_fillers;
    o.filler_words = config.filters.filler_words;
    for (const auto& rule : config.filters.dictionary)
      o.dictionary.push_back({rule.from, rule.to, rule.case_sensitive, rule.regex});
    o.tidy.capitalise_sentences = config.filters.capitalise_sentences;
    o.tidy.leading_space = config.output.leading_space;
    auto f = text::TextFilter::create(std::move(o));
    if (!f) return make_error("config filters: " + f.error());
    vocabulary = f->dictionary().vocabulary();
    out.filter = std::make_shared<TextFilterStage>(std::move(*f));
  }
  if (config.enhancement.enabled) {
    const auto& c = config.enhancement;
    auto protocol = enhance::parse_protocol(c.provider);
    if (!protocol) return make_error("config enhancement.provider: " + protocol.error());
    enhance::EndpointConfig ep;
    ep.protocol = *protocol;
    ep.base_url = c.base_url;
    ep.model = c.model;
    ep.api_key = c.api_key;
    ep.stream = c.stream;
    ep.connect_timeout = std::chrono::milliseconds(c.connect_timeout_ms);
    ep.total_timeout = std::chrono::milliseconds(c.timeout_ms);
    ep.retries = c.retries;
    ep.temperature = c.temperature;
    auto library = enhance::TemplateLibrary::load(paths::templates_dir());
    if (!library) return make_error(library.error());
    const enhance::PromptTemplate* tmpl = library->find(c.prompt_template);
    if (!tmpl)
      return make_error("config enhancement.template: no prompt template named '" + c.prompt_template + "'");
    out.enhancer = std::make_shared<LlmEnhancer>(std::move(ep), *tmpl, vocabulary, config.enhancement.context);
  }
  if (config.history.enabled) {
    auto store = store::HistoryStore::open(paths::history_db());
    if (!store) return make_error(store.error());
    out.history = std::make_shared<HistoryStage>(std::move(*store));
  }
  return out;
}

}  // namespace thoth::pipeline
