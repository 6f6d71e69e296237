// The embedded web UI: what the daemon serves for which path, and that the files keep to
// the Content-Security-Policy they are served with (nothing inline, nothing external).
#include "server/web_ui.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

namespace {

using thoth::server::find_web_asset;
using thoth::server::kWebAssetCount;
using thoth::server::kWebAssets;
using thoth::server::web_content_type;

std::string text_of(const thoth::server::WebAsset& a) { return {reinterpret_cast<const char*>(a.data), a.size}; }

TEST(WebUi, PathsMapToTheEmbeddedFiles) {
  ASSERT_NE(find_web_asset("/"), nullptr);
  EXPECT_STREQ(find_web_asset("/")->path, "index.html");
  EXPECT_EQ(find_web_asset("/index.html"), find_web_asset("/"));
  for (const char* name : {"app.js", "api.js", "style.css"}) {
    const auto* a = find_web_asset(std::string("/static/") + name);
    ASSERT_NE(a, nullptr) << name;
    EXPECT_STREQ(a->path, name);
    EXPECT_GT(a->size, 100u) << name;
  }
  for (const char* path : {"/static/", "/static/../index.html", "/static/nope.js", "/app.js", "/api/status", ""})
    EXPECT_EQ(find_web_asset(path), nullptr) << path;
  EXPECT_EQ(web_content_type("app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(web_content_type("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(web_content_type("style.css"), "text/css; charset=utf-8");
}

// The CSP (script-src 'self', style-src 'self') would silently block inline code, and the
// UI must work offline: every reference stays inside the embedded set.
TEST(WebUi, FilesNeedNothingInlineOrExternal) {
  std::set<std::string> names;
  for (size_t i = 0; i < kWebAssetCount; ++i) names.insert(kWebAssets[i].path);
  const std::regex inline_script(R"(<script(?![^>]*\bsrc=)[^>]*>)");
  const std::regex static_ref(R"((?:src|href)="/static/([^"]+)\")");
  const std::regex js_import(R"(from '\./([^']+)')");
  for (size_t i = 0; i < kWebAssetCount; ++i) {
    const std::string name = kWebAssets[i].path;
    const std::string text = text_of(kWebAssets[i]);
    EXPECT_EQ(text.find("http://"), std::string::npos) << name << " refers to another origin";
    EXPECT_EQ(text.find("https://"), std::string::npos) << name << " refers to another origin";
    if (name.ends_with(".html")) {
      EXPECT_FALSE(std::regex_search(text, inline_script)) << name << " has an inline script";
      EXPECT_EQ(text.find(" style=\""), std::string::npos) << name << " has an inline style";
      EXPECT_EQ(text.find("<style"), std::string::npos) << name << " has an inline style sheet";
      EXPECT_EQ(text.find(" onclick="), std::string::npos) << name << " has an inline handler";
      for (std::sregex_iterator m(text.begin(), text.end(), static_ref), end; m != end; ++m)
        EXPECT_TRUE(names.count((*m)[1].str())) << name << " refers to missing " << (*m)[1];
    }
    if (name.ends_with(".js"))
      for (std::sregex_iterator m(text.begin(), text.end(), js_import), end; m != end; ++m)
        EXPECT_TRUE(names.count((*m)[1].str())) << name << " imports missing " << (*m)[1];
  }
}

}  // namespace
