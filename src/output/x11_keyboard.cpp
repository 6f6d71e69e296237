#include "output/x11_keyboard.h"

#include <X11/XKBlib.h>
#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>
#include <vector>

namespace thoth::output {

std::u32string decode_utf8(std::string_view s) {
  std::u32string out;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    bool ok = len > 0 && i + size_t(len) <= s.size();
    for (int k = 1; ok && k < len; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((cc & 0xc0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
               (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
      ok = false;
    out.push_back(ok ? cp : U'\uFFFD');
    i += ok ? size_t(len) : 1;
  }
  return out;
}

namespace {

KeySym keysym_for(char32_t cp) {
  if (cp == U'\n') return XK_Return;
  if (cp == U'\t') return XK_Tab;
  // Latin-1 keysyms are the code points themselves; everything else has a Unicode keysym.
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return KeySym(cp);
  return KeySym(0x01000000 | cp);
}

struct Key {
  KeyCode code = 0;
  bool shift = false;
};

// Clients re-read the keymap when they get MappingNotify; give them a moment before keys
// that rely on a changed mapping arrive.
constexpr auto kMappingSettle = std::chrono::milliseconds(80);
// A client looks a key up when it handles the key event, which on a busy desktop can lag
// well behind our sending it; the bindings must outlive that lag or the last characters
// come out as whatever the keycode means after the restore. Only paid when the text held
// characters the layout lacks.
constexpr auto kRestoreSettle = std::chrono::milliseconds(400);

// Xlib's default error handler exits the process; a failed request must instead become an
// error of the call that made it.
std::atomic<int> g_x_errors{0};
int count_x_error(Display*, XErrorEvent*) {
  g_x_errors.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

}  // namespace

struct X11Keyboard::Impl {
  Display* display = nullptr;
  int min_code = 0, max_code = 0;
  ~Impl() {
    if (display) XCloseDisplay(display);
  }
};

X11Keyboard::X11Keyboard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
X11Keyboard::~X11Keyboard() = default;

Result<std::unique_ptr<X11Keyboard>> X11Keyboard::open(const std::string& display) {
  const char* name = display.empty() ? std::getenv("DISPLAY") : display.c_str();
  if (!name || !*name) return make_error("output: no X11 display (DISPLAY is not set)");
  auto impl = std::make_unique<Impl>();
  impl->display = XOpenDisplay(name);
  if (!impl->display) return make_error(std::string("output: cannot open X11 display ") + name);
  int ev = 0, err = 0, major = 0, minor = 0;
  if (!XTestQueryExtension(impl->display, &ev, &err, &major, &minor))
    return make_error(std::string("output: X11 display ") + name + " has no XTest extension; typing is impossible there");
  XSetErrorHandler(count_x_error);
  XDisplayKeycodes(impl->display, &impl->min_code, &impl->max_code);
  return std::unique_ptr<X11Keyboard>(new X11Keyboard(std::move(impl)));
}

Result<void> X11Keyboard::type(std::string_view text, const std::atomic<bool>* cancel) {
  Display* d = impl_->display;
  const std::u32string chars = decode_utf8(text);
  g_x_errors.store(0, std::memory_order_relaxed);
  if (chars.empty()) return {};
  const int count = impl_->max_code - impl_->min_code + 1;
  int per = 0;
  KeySym* map = XGetKeyboardMapping(d, KeyCode(impl_->min_code), count, &per);
  if (!map) return make_error("output: cannot read the X11 keyboard mapping");
  // What the layout already types: keysym -> keycode at level 1 (plain) or 2 (shift).
  std::map<KeySym, Key> known;
  std::vector<KeyCode> spare;
  for (int i = 0; i < count; ++i) {
    const KeyCode code = KeyCode(impl_->min_code + i);
    bool empty = true;
    for (int c = 0; c < per; ++c) empty &= map[i * per + c] == NoSymbol;
    if (empty) spare.push_back(code);
    for (int c = 0; c < std::min(per, 2); ++c) {
      const KeySym ks = map[i * per + c];
      if (ks != NoSymbol && !known.count(ks)) known[ks] = {code, c == 1};
    }
  }
  XFree(map);
  const KeyCode shift = XKeysymToKeycode(d, XK_Shift_L);
  if (spare.empty()) spare.push_back(KeyCode(impl_->max_code));  // borrow the last keycode

  auto press = [&](const Key& k) {
    if (k.shift && shift) XTestFakeKeyEvent(d, shift, True, CurrentTime);
    XTestFakeKeyEvent(d, k.code, True, CurrentTime);
    XTestFakeKeyEvent(d, k.code, False, CurrentTime);
    if (k.shift && shift) XTestFakeKeyEvent(d, shift, False, CurrentTime);
    XFlush(d);
  };

  // Original bindings of the spare keycodes, restored after each batch.
  std::vector<std::vector<KeySym>> original(spare.size());
  for (size_t i = 0; i < spare.size(); ++i) {
    int n = 0;
    KeySym* syms = XGetKeyboardMapping(d, spare[i], 1, &n);
    if (syms) {
      original[i].assign(syms, syms + n);
      XFree(syms);
    }
    if (original[i].empty()) original[i].push_back(NoSymbol);
  }

  size_t pos = 0;
  while (pos < chars.size()) {
    // A batch: as many characters as the spare keycodes can cover with distinct bindings.
    std::map<KeySym, Key> bound;
    size_t end = pos;
    for (; end < chars.size(); ++end) {
      const KeySym ks = keysym_for(chars[end]);
      if (known.count(ks) || bound.count(ks)) continue;
      if (bound.size() == spare.size()) break;
      const KeyCode code = spare[bound.size()];  // before the insertion changes size()
      bound.emplace(ks, Key{code, false});
    }
    for (const auto& [ks, key] : bound) {
      KeySym pair[2] = {ks, ks};  // both levels, so Shift or Caps Lock cannot change it
      XChangeKeyboardMapping(d, key.code, 2, pair, 1);
    }
    if (!bound.empty()) {
      XSync(d, False);
      std::this_thread::sleep_for(kMappingSettle);
    }
    bool cancelled = false;
    for (size_t i = pos; i < end; ++i) {
      if (cancel && cancel->load(std::memory_order_acquire)) {
        cancelled = true;
        break;
      }
      const KeySym ks = keysym_for(chars[i]);
      auto it = known.find(ks);
      press(it != known.end() ? it->second : bound.at(ks));
    }
    XSync(d, False);
    if (!bound.empty()) {
      std::this_thread::sleep_for(kRestoreSettle);
      for (size_t i = 0; i < bound.size(); ++i)
        XChangeKeyboardMapping(d, spare[i], int(original[i].size()), original[i].data(), 1);
      XSync(d, False);
    }
    if (cancelled) return make_error("output: typing cancelled");
    pos = end;
  }
  if (g_x_errors.exchange(0, std::memory_order_relaxed) != 0)
    return make_error("output: the X server refused some of the keystrokes");
  return {};
}

}  // namespace thoth::output
