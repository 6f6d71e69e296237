// Kept apart from tokenizer.cpp so the pure tokenizer links without the model loader.
#include "asr/tokenizer.h"

namespace thoth::asr {

Tokenizer Tokenizer::from_model(const ModelFile& model) {
  const int n_vocab = model.hparams().n_vocab;
  std::vector<std::string> vocab;
  vocab.reserve(n_vocab);
  for (int32_t id = 0; id < n_vocab; ++id) vocab.push_back(model.token_bytes(id));
  return Tokenizer(std::move(vocab), model.special(), model.is_multilingual(), model.num_languages());
}

}  // namespace thoth::asr
