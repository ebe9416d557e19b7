// predictions.png: a grid of test images, each scaled up and captioned with the predicted and the true
// class (green when right, red frame and text when wrong).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deitctl {

struct PredictionGrid {
  const uint8_t* images = nullptr;  // uint8 NCHW, `count` images
  int count = 0;
  int channels = 0;  // 1 (gray) or 3 (RGB); others: the first channel is shown
  int height = 0;
  int width = 0;
  const int32_t* predicted = nullptr;
  const int32_t* truth = nullptr;
  std::vector<std::string> class_names;  // empty: class numbers
};

// False when deitctl was built without stb (then write_predictions_png throws).
bool png_supported();

// Renders the grid (`columns` per row, images scaled by `scale`, nearest) and writes it atomically.
void write_predictions_png(const std::string& path, const PredictionGrid& grid, int columns = 8,
                           int scale = 3);

// Fashion-MNIST's class names when the data set has 10 classes and its directory name says "fashion";
// otherwise an empty list (numbers are shown).
std::vector<std::string> class_names_for(const std::string& data_dir, int num_classes);

}  // namespace deitctl
