#pragma once
// The mount part of plan_sandbox() (plan.hpp): the standard file systems, the spec's mounts,
// device nodes, masks and read-only paths, as ChildSteps in the order the child applies them.
// Internal to the planner; tested through plan_sandbox().
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "isolation/plan.hpp"

namespace svc::isolation::detail {

// Appends the steps for spec's file systems to plan.child.steps and their bind sources to
// plan.binds. plan.gid_map and the clone flags must be planned already.
Result<> plan_mounts(const SandboxSpec& spec, Plan& plan);

// An absolute, lexically normal path that is not "/" and has no NUL byte.
Result<std::string> clean_target(std::string_view field, const std::string& path);
// path is dir or below it (both lexically normal).
bool under(const std::string& path, std::string_view dir);
// "size=64m,mode=1777,newinstance" -> {size,64m} {mode,1777} {newinstance,""}.
std::vector<std::pair<std::string, std::string>> split_options(const std::string& text);

}  // namespace svc::isolation::detail
