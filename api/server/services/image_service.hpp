#pragma once
// svc.v1.Images: Pull (server streaming progress), List, Get, Remove, Import, Prune — messages
// translated to images::ImageService calls, nothing more.
#include "api/server/dispatcher.hpp"

namespace svc::images {
class ImageService;
}

namespace svc::api {

void register_image_service(Dispatcher& dispatcher, images::ImageService& images);

}  // namespace svc::api
