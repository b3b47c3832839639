// Render metric families in the Prometheus text format.
#include "dashboard/exposition.hpp"

#include <cmath>
#include <cstdio>

namespace dashboard {

namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&text](size_t at) { return static_cast<unsigned char>(text[at]); };
  unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  unsigned min_second = 0x80, max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) min_second = 0xA0;  // no overlong forms
    if (lead == 0xED) max_second = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) min_second = 0x90;
    if (lead == 0xF4) max_second = 0x8F;  // up to U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < min_second || byte(i + 1) > max_second) return 0;
  for (size_t k = 2; k < length; k++)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

// Backslash and line feed escaped (and double quotes, in label values).
std::string Escape(std::string_view text, bool quotes) {
  std::string escaped;
  for (char c : ValidUtf8(text)) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else if (c == '"' && quotes) {
      escaped += "\\\"";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

}  // namespace

std::string ValidUtf8(std::string_view text) {
  std::string valid;
  valid.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t length = Utf8SequenceLength(text, i);
    if (length == 0) {
      valid += "\xEF\xBF\xBD";
      i++;
    } else {
      valid.append(text.substr(i, length));
      i += length;
    }
  }
  return valid;
}

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

std::string RenderFamily(std::string_view name, std::string_view type, std::string_view help,
                         const std::vector<Sample>& samples) {
  std::string text = "# HELP " + std::string(name) + " " + Escape(help, false) + "\n";
  text += "# TYPE " + std::string(name) + " " + std::string(type) + "\n";
  for (const Sample& sample : samples) {
    text += name;
    if (!sample.labels.empty()) {
      text += '{';
      for (size_t i = 0; i < sample.labels.size(); i++) {
        if (i > 0) text += ',';
        text += sample.labels[i].first + "=\"" + EscapeLabelValue(sample.labels[i].second) + "\"";
      }
      text += '}';
    }
    text += " " + FormatValue(sample.value) + "\n";
  }
  return text;
}

}  // namespace dashboard
