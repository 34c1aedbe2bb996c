#pragma once
// OCI hooks (config.md "POSIX-platform Hooks"): each is a program svc-runtime runs in its own
// namespaces, in the listed order, with the container's state JSON on stdin, and kills when its
// timeout passes. Which hooks run when, and what a failure means, is the caller's
// (commands.cpp): prestart/createRuntime failing fails `create`; poststart and poststop
// failures are warnings.
#include <string>
#include <vector>

#include "common/result.hpp"
#include "isolation/oci_spec.hpp"

namespace svc::isolation::oci {

// Runs the hooks one after the other; stops at the first that fails (exit status, signal,
// timeout, or a program that cannot be run) and returns its error, naming the hook.
// `which` names the list in errors ("prestart").
Result<> run_hooks(const std::vector<OciHook>& hooks, const std::string& state_json,
                   const char* which);

// The hooks of a created container, kept beside its state (the bundle's config.json may change
// after create, and must not change what runs: runtime-spec runtime.md).
Result<> save_hooks(const std::filesystem::path& sandbox_dir, const OciHooks& hooks);
Result<OciHooks> load_hooks(const std::filesystem::path& sandbox_dir);

}  // namespace svc::isolation::oci
