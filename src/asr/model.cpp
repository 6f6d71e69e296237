#include <chrono>

#include "asr/model_file.h"
#include "asr/whisper.h"

namespace thoth::asr {

Result<std::shared_ptr<const Model>> Model::load(const std::string& path) {
  const auto start = std::chrono::steady_clock::now();
  auto file = ModelFile::open(path);
  if (!file) return make_error(file.error());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return std::make_shared<const Model>(std::move(file.value()), ms);
}

ModelInfo Model::info() const {
  const Hparams& hp = file_->hparams();
  ModelInfo info;
  info.path = file_->path();
  switch (hp.n_audio_layer) {  // the reference names models by encoder depth
    case 4: info.type_name = "tiny"; break;
    case 6: info.type_name = "base"; break;
    case 12: info.type_name = "small"; break;
    case 24: info.type_name = "medium"; break;
    case 32: info.type_name = "large"; break;
    default: info.type_name = "unknown"; break;
  }
  info.weight_type = type_name(file_->weight_type());
  info.multilingual = file_->is_multilingual();
  info.n_vocab = hp.n_vocab;
  info.n_mels = hp.n_mels;
  info.n_audio_state = hp.n_audio_state;
  info.n_audio_layer = hp.n_audio_layer;
  info.n_text_state = hp.n_text_state;
  info.n_text_layer = hp.n_text_layer;
  return info;
}

}  // namespace thoth::asr
