#include "input/accelerator.h"

#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <X11/keysym.h>

#include <cctype>
#include <cstdio>
#include <vector>

namespace thoth::input {
namespace {

struct NamedKey {
  std::string_view name;  // canonical spelling
  uint32_t keysym;
  std::vector<std::string_view> aliases;  // lower case, plus literal characters
};

const std::vector<NamedKey>& named_keys() {
  static const std::vector<NamedKey> keys = {
      {"Space", XK_space, {"space", " "}},
      {"Escape", XK_Escape, {"escape", "esc"}},
      {"Enter", XK_Return, {"enter", "return"}},
      {"Tab", XK_Tab, {"tab"}},
      {"Backspace", XK_BackSpace, {"backspace"}},
      {"Delete", XK_Delete, {"delete", "del"}},
      {"Insert", XK_Insert, {"insert", "ins"}},
      {"Home", XK_Home, {"home"}},
      {"End", XK_End, {"end"}},
      {"PageUp", XK_Prior, {"pageup", "page_up", "pgup", "prior"}},
      {"PageDown", XK_Next, {"pagedown", "page_down", "pgdn", "next"}},
      {"Up", XK_Up, {"up"}},
      {"Down", XK_Down, {"down"}},
      {"Left", XK_Left, {"left"}},
      {"Right", XK_Right, {"right"}},
      {"Menu", XK_Menu, {"menu"}},
      {"Pause", XK_Pause, {"pause"}},
      {"Print", XK_Print, {"print", "printscreen", "prtsc"}},
      {"ScrollLock", XK_Scroll_Lock, {"scrolllock", "scroll_lock"}},
      {"Minus", XK_minus, {"minus", "-"}},
      {"Equal", XK_equal, {"equal", "equals", "="}},
      {"Plus", XK_plus, {"plus", "+"}},
      {"Comma", XK_comma, {"comma", ","}},
      {"Period", XK_period, {"period", "dot", "."}},
      {"Slash", XK_slash, {"slash", "/"}},
      {"Backslash", XK_backslash, {"backslash", "\\"}},
      {"Semicolon", XK_semicolon, {"semicolon", ";"}},
      {"Apostrophe", XK_apostrophe, {"apostrophe", "quote", "'"}},
      {"Grave", XK_grave, {"grave", "backtick", "`"}},
      {"BracketLeft", XK_bracketleft, {"bracketleft", "["}},
      {"BracketRight", XK_bracketright, {"bracketright", "]"}},
  };
  return keys;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = char(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

unsigned modifier_bit(std::string_view token) {
  const std::string t = lower(token);
  if (t == "ctrl" || t == "control") return kCtrl;
  if (t == "alt") return kAlt;
  if (t == "shift") return kShift;
  if (t == "super" || t == "meta" || t == "logo" || t == "win") return kSuper;
  return 0;
}

// Keysyms of the modifier keys themselves (Shift_L .. Hyper_R, AltGr): a shortcut made of
// them alone would fire on every chord that uses them.
bool is_modifier_keysym(uint32_t ks) {
  return (ks >= XK_Shift_L && ks <= XK_Hyper_R) || ks == XK_ISO_Level3_Shift || ks == XK_Mode_switch ||
         ks == XK_Num_Lock;
}

// Keys that type a character: grabbing them without Ctrl/Alt/Super would take them from
// every application.
bool types_text(uint32_t ks) {
  return (ks >= 0x20 && ks <= 0x7e) || (ks >= 0xa0 && ks <= 0xff) || (ks & 0xff000000u) == 0x01000000u;
}

uint32_t lower_keysym(uint32_t ks) {
  KeySym lo = 0, up = 0;
  XConvertCase(ks, &lo, &up);
  return uint32_t(lo);
}

// The keysym `token` names, or 0.
uint32_t find_key(std::string_view token) {
  const std::string t = lower(token);
  for (const auto& k : named_keys())
    for (auto alias : k.aliases)
      if (t == alias) return k.keysym;
  if (t.size() == 1 && std::isalnum(static_cast<unsigned char>(t[0]))) return uint32_t(t[0]);
  if (t.size() >= 2 && t[0] == 'f' && t.find_first_not_of("0123456789", 1) == std::string::npos &&
      t.size() <= 3) {
    const int n = std::stoi(t.substr(1));
    if (n >= 1 && n <= 35) return uint32_t(XK_F1 + n - 1);
    return 0;
  }
  // Any X keysym name; users rarely match its exact case, so also try the usual spellings.
  std::string tries[3] = {std::string(token), std::string(token), lower(token)};
  tries[1][0] = char(std::toupper(static_cast<unsigned char>(tries[1][0])));
  tries[2][0] = char(std::toupper(static_cast<unsigned char>(tries[2][0])));
  for (const auto& name : tries) {
    const KeySym ks = XStringToKeysym(name.c_str());
    if (ks != NoSymbol) return lower_keysym(uint32_t(ks));
  }
  return 0;
}

std::string quoted(std::string_view s) {
  std::string out(1, '\'');
  out.append(s);
  out.push_back('\'');
  return out;
}

}  // namespace

Result<Accelerator> parse_accelerator(std::string_view text) {
  const std::string_view whole = trim(text);
  if (whole.empty()) return make_error("empty accelerator; write one like Ctrl+Alt+Space");
  const std::string in = " in " + quoted(whole);

  // Split on '+'; a trailing "++" is the plus key ("Ctrl++").
  std::string_view body = whole;
  bool plus_key = false;
  if (whole == "+" || (whole.size() >= 2 && whole.ends_with("++"))) {
    body = whole.size() == 1 ? std::string_view() : whole.substr(0, whole.size() - 2);
    plus_key = true;
  }
  std::vector<std::string_view> tokens;
  for (size_t start = 0; !body.empty() && start <= body.size();) {
    size_t plus = body.find('+', start);
    if (plus == std::string_view::npos) plus = body.size();
    tokens.push_back(trim(body.substr(start, plus - start)));
    start = plus + 1;
  }
  if (plus_key) tokens.push_back("+");
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].empty()) continue;
    if (i + 1 == tokens.size()) return make_error("missing key after the last '+'" + in);
    return make_error("empty part between '+' signs" + in);
  }

  Accelerator a;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const unsigned bit = modifier_bit(tokens[i]);
    if (!bit) {
      const char* what = find_key(tokens[i]) ? "is a key, not a modifier" : "is not a modifier";
      return make_error(quoted(tokens[i]) + " " + what + in +
                        " (modifiers: Ctrl, Alt, Shift, Super; the key comes last)");
    }
    if (a.modifiers & bit) return make_error("modifier " + quoted(tokens[i]) + " repeated" + in);
    a.modifiers |= bit;
  }
  const std::string_view key = tokens.back();
  if (modifier_bit(key))
    return make_error(quoted(whole) + " has only modifiers; add a key, e.g. Ctrl+Alt+Space");
  a.keysym = find_key(key);
  if (!a.keysym) return make_error("unknown key " + quoted(key) + in);
  if (is_modifier_keysym(a.keysym))
    return make_error(quoted(key) + " is a modifier key" + in + "; add a key, e.g. Ctrl+Alt+Space");
  if (types_text(a.keysym) && !(a.modifiers & (kCtrl | kAlt | kSuper)))
    return make_error(quoted(whole) + " would take " + quoted(key_name(a.keysym)) +
                      " away from typing; add Ctrl, Alt or Super");
  return a;
}

std::string key_name(uint32_t keysym) {
  for (const auto& k : named_keys())
    if (k.keysym == keysym) return std::string(k.name);
  if (keysym < 0x80 && std::isalnum(int(keysym))) return std::string(1, char(std::toupper(int(keysym))));
  if (keysym >= XK_F1 && keysym <= XK_F35) return std::string(1, 'F').append(std::to_string(keysym - XK_F1 + 1));
  if (const char* name = XKeysymToString(keysym)) return name;
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", keysym);
  return hex;
}

std::string format_accelerator(const Accelerator& a) {
  std::string out;
  if (a.modifiers & kCtrl) out += "Ctrl+";
  if (a.modifiers & kAlt) out += "Alt+";
  if (a.modifiers & kShift) out += "Shift+";
  if (a.modifiers & kSuper) out += "Super+";
  return out + key_name(a.keysym);
}

std::string xdg_trigger(const Accelerator& a) {
  std::string out;
  if (a.modifiers & kCtrl) out += "CTRL+";
  if (a.modifiers & kAlt) out += "ALT+";
  if (a.modifiers & kShift) out += "SHIFT+";
  if (a.modifiers & kSuper) out += "LOGO+";
  // The spec names keys as xkb does, which are X keysym names ("space", "a", "F9").
  if (const char* name = XKeysymToString(a.keysym)) return out + name;
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%x", a.keysym);
  return out + hex;
}

}  // namespace thoth::input
