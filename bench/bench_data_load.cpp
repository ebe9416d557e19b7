// Median wall time to open the Fashion-MNIST train split (60,000 images, IDX .gz) through the C API.
//   bench_data_load [DIR] [REPEATS]     DIR defaults to /usr/share/datasets/fashion-mnist, REPEATS to 5
// Exits 77 when the data is absent (apt-get install dataset-fashion-mnist).
#include <deit/deit.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  const std::string images = dir + "/train-images-idx3-ubyte.gz";
  const std::string labels = dir + "/train-labels-idx1-ubyte.gz";
  struct stat st {};
  if (stat(images.c_str(), &st) != 0 || stat(labels.c_str(), &st) != 0) {
    std::fprintf(stderr, "bench_data_load: %s not found (apt-get install dataset-fashion-mnist); skipped\n",
                 images.c_str());
    return 77;
  }

  std::vector<double> seconds;
  int64_t count = 0;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    deit_dataset* ds = nullptr;
    const deit_status st_open = deit_dataset_open_idx(images.c_str(), labels.c_str(), &ds);
    const auto t1 = std::chrono::steady_clock::now();
    if (st_open != DEIT_OK) {
      std::fprintf(stderr, "bench_data_load: %s\n", deit_last_error());
      return 1;
    }
    deit_dataset_info info{};
    info.struct_size = sizeof info;
    if (deit_dataset_get_info(ds, &info) != DEIT_OK) {
      std::fprintf(stderr, "bench_data_load: %s\n", deit_last_error());
      deit_dataset_free(ds);
      return 1;
    }
    count = info.count;
    deit_dataset_free(ds);
    seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    std::printf("run %d: %.3f s\n", i + 1, seconds.back());
  }
  std::sort(seconds.begin(), seconds.end());
  const size_t m = seconds.size();
  const double median = m % 2 ? seconds[m / 2] : (seconds[m / 2 - 1] + seconds[m / 2]) / 2;
  std::printf("bench_data_load: %lld images from %s: median %.3f s over %d runs (%.0f images/s)\n",
              static_cast<long long>(count), images.c_str(), median, repeats, count / median);
  return 0;
}
