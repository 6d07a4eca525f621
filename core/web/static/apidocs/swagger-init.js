// Starts Swagger UI on the page's #swagger-ui element with the document named by its data-spec-url attribute
// (an external script: the pages allow no inline script).
(function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: el.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    withCredentials: true,
    validatorUrl: null, // no badge fetched from validator.swagger.io
  });
})();
