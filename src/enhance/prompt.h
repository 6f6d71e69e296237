// Prompt templates for the enhancement step. The transcript goes into the prompt between
// clear markers, with a system message saying that it is text to edit: a dictated
// question is rewritten, not answered.
#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace thoth::enhance {

struct PromptTemplate {
  std::string name;         // "fix-grammar"; a user file's name without ".txt"
  std::string description;  // one line for listings
  std::string instruction;  // the user message; must contain {text}; may hold {context},
                            // {vocabulary}
  bool builtin = true;
};

// fix-grammar (the default), make-professional, make-casual, simplify, summarise, expand,
// bullet-list, code-comment.
const std::vector<PromptTemplate>& builtin_templates();
constexpr std::string_view kDefaultTemplate = "fix-grammar";

// Built-in templates plus the user's, one per NAME.txt file in a folder (the config dir's
// templates/). A user template with a built-in's name replaces it.
class TemplateLibrary {
 public:
  // A missing folder is fine (no user templates); an unreadable file or one without {text}
  // is an error naming the file.
  static Result<TemplateLibrary> load(const std::filesystem::path& user_dir);
  static TemplateLibrary builtins_only();

  const PromptTemplate* find(std::string_view name) const;
  const std::vector<PromptTemplate>& all() const { return templates_; }

 private:
  std::vector<PromptTemplate> templates_;
};

// What the model is told beside the instruction.
struct PromptInputs {
  std::string text{};                     // the filtered transcript
  std::string context{};                  // clipboard / primary selection, may be empty
  std::vector<std::string> vocabulary{};  // dictionary words to spell exactly
};

struct ChatPrompt {
  std::string system;
  std::string user;
};

ChatPrompt build_prompt(const PromptTemplate& tmpl, const PromptInputs& inputs);

// Cleans a model's reply: drops echoed markers, <think> blocks, a chatty first line
// ("Here is the corrected text:"), a code fence or quotes wrapped around the whole reply
// (unless the transcript itself was quoted), and surrounding whitespace.
std::string clean_reply(std::string_view reply, std::string_view original_text);

}  // namespace thoth::enhance
