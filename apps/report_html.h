#pragma once
// The run report: one self-contained HTML page (inline CSS and SVG, images
// as base64 PNG; nothing fetched) with the diagnosis, the training curves,
// the confusion matrix, sample inputs with their predictions, the data's
// statistics and each layer's health.
#include <string>
#include <vector>

#include "apps/finding.h"
#include "apps/run_record.h"

namespace ck {

std::string run_report_html(const RunRecord& run, const std::vector<Finding>& findings);

std::string base64(const std::string& bytes);
std::string html_escape(const std::string& text);

}  // namespace ck
