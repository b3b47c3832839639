// The page's files (HTML, JavaScript, CSS), compiled into the program by CMake
// from src/dashboard/page/ (see embed_page.cmake), so it works offline.
#pragma once

#include <cstddef>
#include <string_view>

namespace dashboard {

struct PageAsset {
  const char* path;  // "/", "/app.js", ...
  const char* content_type;
  std::string_view content;
};

// Every asset, ending with one whose path is nullptr.
const PageAsset* PageAssets();

}  // namespace dashboard
