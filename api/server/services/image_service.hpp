#pragma once
// svc.v1.Images: Pull (server streaming progress), List, Get, Remove, Import, Prune — messages
// translated to ImageBackend calls (image_backend.hpp), nothing more.
#include "api/server/dispatcher.hpp"
#include "api/server/services/image_backend.hpp"

namespace svc::api {

void register_image_service(Dispatcher& dispatcher, ImageBackend& images);

}  // namespace svc::api
