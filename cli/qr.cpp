// render_qr (views.hpp), with libqrencode when the build found it.
#include "views.hpp"

#ifdef MNIGS_HAVE_QRENCODE
#include <qrencode.h>

#include <memory>
#endif

namespace mnigs::cli {

#ifdef MNIGS_HAVE_QRENCODE
std::string render_qr(const std::string& text) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> code(
      QRcode_encodeString(text.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  if (!code) return "";
  const int size = code->width, quiet = 2, side = size + 2 * quiet;
  auto dark = [&](int x, int y) {
    x -= quiet;
    y -= quiet;
    return x >= 0 && y >= 0 && x < size && y < size && (code->data[y * size + x] & 1);
  };
  std::string out;
  for (int y = 0; y < side; y += 2) {
    out += "\x1b[30;47m";  // black on white
    for (int x = 0; x < side; ++x) {
      const bool top = dark(x, y), bottom = y + 1 < side && dark(x, y + 1);
      out += top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ";
    }
    out += "\x1b[0m\n";
  }
  return out;
}
#else
std::string render_qr(const std::string&) { return ""; }
#endif

}  // namespace mnigs::cli
