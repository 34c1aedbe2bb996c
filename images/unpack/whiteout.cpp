#include "images/unpack/whiteout.hpp"

#include "images/unpack/safe_root.hpp"

namespace svc::images::unpack {

EntryPlan plan_entry(std::string_view clean_path) {
  auto split = split_parent(clean_path);
  std::string_view parent = split.first, name = split.second;
  auto join = [&](std::string_view leaf) {
    return parent.empty() ? std::string(leaf) : std::string(parent) + "/" + std::string(leaf);
  };
  if (name == kOpaqueMarker) return {EntryPlan::Kind::kOpaque, std::string(parent)};
  if (name.starts_with(".wh..wh.")) return {EntryPlan::Kind::kSkip, std::string(clean_path)};
  if (name.starts_with(kWhiteoutPrefix)) {
    std::string_view hidden = name.substr(kWhiteoutPrefix.size());
    if (hidden.empty() || hidden == "." || hidden == "..")
      return {EntryPlan::Kind::kSkip, std::string(clean_path)};
    return {EntryPlan::Kind::kWhiteout, join(hidden)};
  }
  return {EntryPlan::Kind::kNormal, std::string(clean_path)};
}

}  // namespace svc::images::unpack
