using Microsoft.OpenApi;

namespace Portal.Web.Features.OpenApi;

/// <summary>The OpenAPI document of the v1 REST API at <c>/openapi/v1.json</c>.</summary>
public static class OpenApiSetup
{
    /// <summary>Describes every <c>/api/v1</c> endpoint, with the API key as a bearer scheme.</summary>
    public static IServiceCollection AddPortalOpenApi(this IServiceCollection services) =>
        services.AddOpenApi("v1", o =>
        {
            o.ShouldInclude = d => d.RelativePath?.StartsWith("api/v1/", StringComparison.Ordinal) == true;
            o.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Portal API",
                    Version = "v1",
                    Description = "Create diagnostic sessions, read their runs, results and findings, run server-side probes, share reports, and administer the portal. Authenticate with 'Authorization: Bearer <api key>'.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes["apiKey"] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http, Scheme = "bearer", Description = "An API key made by an admin (ptl_…).",
                };
                document.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKey", document)] = [] }];
                return Task.CompletedTask;
            });
        });
}
