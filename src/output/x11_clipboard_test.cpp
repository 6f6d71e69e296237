// Clipboard paste on a private Xvfb server: the receiving window fetches CLIPBOARD on
// Ctrl+V, and the clipboard another program owned before is put back afterwards.
#include "output/x11_clipboard.h"

#include <gtest/gtest.h>

#include "support/process.h"
#include "support/shared_data.h"
#include "support/x_server.h"

namespace thoth::output {
namespace {

using namespace std::chrono_literals;

std::string xclip_out(const std::string& display) {
  thoth::test::RunOptions o;
  o.env["DISPLAY"] = display;
  o.timeout = 5000ms;
  auto r = thoth::test::run_program({"/usr/bin/xclip", "-o", "-selection", "clipboard"}, o);
  return r.exit_code == 0 ? r.out : "<xclip failed: " + r.err + ">";
}

TEST(X11Clipboard, PasteDeliversTheTextAndRestoresTheOtherProgramsClipboard) {
  std::string error;
  auto x = thoth::test::XvfbServer::start(&error);
  ASSERT_TRUE(x) << error;
  auto window = thoth::test::TypedTextRecorder::start(x->display(), &error);
  ASSERT_TRUE(window) << error;
  // Another program owns the clipboard first (xclip keeps serving it in the background).
  thoth::test::ScratchDir dir;
  {
    std::FILE* f = std::fopen((dir / "prev.txt").c_str(), "w");
    std::fputs("previous content ✓", f);
    std::fclose(f);
  }
  thoth::test::RunOptions o;
  o.env["DISPLAY"] = x->display();
  o.timeout = 5000ms;
  ASSERT_EQ(thoth::test::run_program({"/usr/bin/xclip", "-selection", "clipboard", "-i", (dir / "prev.txt").string()}, o)
                .exit_code,
            0);
  ASSERT_EQ(xclip_out(x->display()), "previous content ✓");

  auto clipboard = X11Clipboard::open(x->display());
  ASSERT_TRUE(clipboard) << clipboard.error();
  EXPECT_EQ((*clipboard)->read(), std::optional<std::string>("previous content ✓"));
  const std::string text = "Grüße aus Köln — 日本語 😀";
  auto pasted = (*clipboard)->paste(text);
  ASSERT_TRUE(pasted) << pasted.error();
  EXPECT_EQ(window->settle(200ms, 5s), text);
  EXPECT_EQ(xclip_out(x->display()), "previous content ✓");
}

TEST(X11Clipboard, EmptyClipboardStaysEmptyAfterPaste) {
  std::string error;
  auto x = thoth::test::XvfbServer::start(&error);
  ASSERT_TRUE(x) << error;
  auto window = thoth::test::TypedTextRecorder::start(x->display(), &error);
  ASSERT_TRUE(window) << error;
  auto clipboard = X11Clipboard::open(x->display());
  ASSERT_TRUE(clipboard) << clipboard.error();
  EXPECT_EQ((*clipboard)->read(), std::nullopt);
  ASSERT_TRUE((*clipboard)->paste("only this"));
  EXPECT_EQ(window->settle(200ms, 5s), "only this");
  EXPECT_EQ((*clipboard)->read(), std::nullopt);
}

TEST(X11Clipboard, CancelledPasteTypesNothingAndRestores) {
  std::string error;
  auto x = thoth::test::XvfbServer::start(&error);
  ASSERT_TRUE(x) << error;
  auto window = thoth::test::TypedTextRecorder::start(x->display(), &error);
  ASSERT_TRUE(window) << error;
  auto clipboard = X11Clipboard::open(x->display());
  ASSERT_TRUE(clipboard);
  ASSERT_TRUE((*clipboard)->set("kept"));
  std::atomic<bool> cancel{true};
  EXPECT_FALSE((*clipboard)->paste("never", false, &cancel));
  EXPECT_EQ(window->settle(200ms, 2s), "");
  EXPECT_EQ(xclip_out(x->display()), "kept");
}

}  // namespace
}  // namespace thoth::output
