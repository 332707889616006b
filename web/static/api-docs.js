// The API viewer at /api/v1/docs: Swagger UI, served from the package (no CDN), pointed
// at this server's own OpenAPI document. In a file of its own: the CSP allows no inline script.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never ask an outside validator about our document
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
