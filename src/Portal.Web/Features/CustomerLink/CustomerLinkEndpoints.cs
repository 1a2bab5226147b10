using Microsoft.AspNetCore.Http.HttpResults;
using Portal.Data;
using Portal.Web.Features.Diagnostics;

namespace Portal.Web.Features.CustomerLink;

/// <summary>Maps the customer's page, <c>/t/{token}</c>.</summary>
public static class CustomerLinkEndpoints
{
    /// <summary>
    /// The Content-Security-Policy of customer pages: only the portal's own script and style; connections to the portal
    /// and to the session's own targets, nothing else.
    /// </summary>
    public static string ContentSecurityPolicy(IEnumerable<string> targets)
    {
        var origins = targets
            .Select(t => Uri.TryCreate(t, UriKind.Absolute, out var u) ? u.GetLeftPart(UriPartial.Authority) : null)
            .OfType<string>()
            .Distinct(StringComparer.OrdinalIgnoreCase);
        return $"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' {string.Join(' ', origins)}".TrimEnd() +
            "; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    }

    /// <summary>Registers the services of customer links.</summary>
    public static IServiceCollection AddCustomerLink(this IServiceCollection services) => services.AddSingleton<KitAssets>().AddSingleton<PortalOrigins>();

    /// <summary>Maps the customer page and the kit's files.</summary>
    public static IEndpointRouteBuilder MapCustomerLink(this IEndpointRouteBuilder endpoints)
    {
        KitAssets.Map(endpoints);
        endpoints.MapGet("/t/{token}", ShowAsync).AllowAnonymous();
        return endpoints;
    }

    private static async Task<IResult> ShowAsync(string token, HttpContext context, PortalDbContext db, TimeProvider time, KitAssets kit, PortalOrigins origins, Diagnostics.DiagKeys diagKeys, CancellationToken cancellationToken)
    {
        var (state, session) = await CustomerLinks.ResolveAsync(db, token, time.GetUtcNow(), cancellationToken);
        var alternate = origins.CrossOriginTarget(context.Request);
        var variants = origins.WebSocketVariants(context.Request);
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy(state == LinkState.Valid ? [.. session!.Targets, .. origins.Others(context.Request), .. variants] : []);
        headers["Referrer-Policy"] = "no-referrer";
        headers.CacheControl = "no-store";
        // The page's language follows Accept-Language: a cache between must not hand one customer's page to another.
        headers.Vary = "Accept-Language";
        // Cross-origin isolated: the page's clock is then fine-grained in every engine (Firefox and WebKit coarsen it to
        // 1 ms otherwise). The page loads nothing from other origins; its cross-origin fetches use CORS, which COEP allows.
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Embedder-Policy"] = "require-corp";

        var style = kit.Url("kit.css");
        var language = CustomerStrings.Choose(context.Request.Query["lang"], session?.Language, context.Request.Headers.AcceptLanguage);
        return state switch
        {
            LinkState.Valid => new RazorComponentResult<CustomerPage>(new { Session = session!, ScriptUrl = kit.Url("kit.js"), StyleUrl = style, AlternateOrigin = alternate, WebSocketVariants = variants, OriginsSkipped = origins.SkippedReason(context.Request), DiagKey = diagKeys.Mint(session!.Id), Language = language, TurnScript = kit.Url("turn.js") }),
            LinkState.Expired => new RazorComponentResult<LinkProblemPage>(new { Expired = true, StyleUrl = style, Language = language }) { StatusCode = StatusCodes.Status410Gone },
            _ => new RazorComponentResult<LinkProblemPage>(new { Expired = false, StyleUrl = style, Language = language }) { StatusCode = StatusCodes.Status404NotFound },
        };
    }
}
