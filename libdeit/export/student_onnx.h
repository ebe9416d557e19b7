// The student's inference as an ONNX graph: the eval-mode forward of models/student.cpp (no dropout, no
// drop path), written op by op at opset 17 (export/onnx_writer.h).
#pragma once

#include <deit/deit.h>

#include <string>
#include <utility>
#include <vector>

#include "models/student.h"

namespace deit::onnx_export {

// Input "images": float32 [batch, in_channels, img_size, img_size], the values deit_student_predict's F32
// input has.  Output "logits": float32 [batch, num_classes] of `head`.  Parameters are initializers under
// their timm names.  Throws DEIT_E_IO when `path` cannot be written (nothing is left there).
void export_student(const models::DistilledViT& student, deit_head head, const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace deit::onnx_export
