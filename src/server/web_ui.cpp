#include "server/web_ui.h"

namespace thoth::server {

const WebAsset* find_web_asset(std::string_view request_path) {
  std::string_view name;
  if (request_path == "/" || request_path == "/index.html") name = "index.html";
  else if (request_path.substr(0, 8) == "/static/") name = request_path.substr(8);
  else return nullptr;
  if (name.empty() || name.find("..") != std::string_view::npos) return nullptr;
  for (size_t i = 0; i < kWebAssetCount; ++i)
    if (name == kWebAssets[i].path) return &kWebAssets[i];
  return nullptr;
}

std::string web_content_type(std::string_view path) {
  const auto dot = path.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "json") return "application/json";
  return "application/octet-stream";
}

}  // namespace thoth::server
