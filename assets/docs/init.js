// Starts Swagger UI on the daemon's own OpenAPI document. validatorUrl is null because
// Swagger UI otherwise sends the document to an online validator for its badge.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  persistAuthorization: false,
});
