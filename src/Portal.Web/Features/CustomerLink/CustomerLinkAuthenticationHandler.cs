using System.Globalization;
using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Portal.Data;

namespace Portal.Web.Features.CustomerLink;

/// <summary>
/// Authenticates a customer's page by its link token: from the <c>{token}</c> route value, from
/// <c>Authorization: Bearer</c> (SignalR long polling) or from <c>access_token</c> in the query (SignalR
/// WebSockets and Server-Sent Events, which cannot send headers from a browser).
/// </summary>
public sealed class CustomerLinkAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    PortalDbContext db) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "CustomerLink";

    /// <summary>The claim that names the session the link belongs to.</summary>
    public const string SessionClaim = "portal:session";

    /// <inheritdoc />
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = Request.RouteValues["token"] as string;
        if (token is null && Request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            token = header["Bearer ".Length..].Trim();
        }

        token ??= Request.Query["access_token"].ToString() is { Length: > 0 } q ? q : null;
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        var (state, session) = await CustomerLinks.ResolveAsync(db, token, TimeProvider.GetUtcNow(), Context.RequestAborted);
        if (state != LinkState.Valid || session is null)
        {
            if (state == LinkState.Unknown)
            {
                Context.Items[LinkGuard.UnknownTokenKey] = true;
            }

            var ingestPath = Request.Path.StartsWithSegments("/api/runs", StringComparison.OrdinalIgnoreCase) ? "http"
                : Request.Path.StartsWithSegments(Ingest.RunHub.Path, StringComparison.OrdinalIgnoreCase) ? "hub"
                : null;
            if (state == LinkState.Expired && session is not null && ingestPath is not null)
            {
                // A page that was open when its link expired, was revoked or its session closed: its run is told why.
                var why = session.Status == SessionStatus.Closed ? "the session was closed while the customer's page was open, so its link no longer works"
                    : session.LinkRevokedAt is not null ? "the link was revoked while the customer's page was open"
                    : "the link expired while the customer's page was open";
                await Context.RequestServices.GetRequiredService<Ingest.PortalRefusals>().RecordAsync(
                    session.Id, null, Core.Results.RefusalReasons.LinkExpired, StatusCodes.Status401Unauthorized, why, ingestPath, CancellationToken.None);
            }

            return AuthenticateResult.Fail(state == LinkState.Expired ? "The link has expired." : "Unknown link.");
        }

        var identity = new ClaimsIdentity(
            [
                new Claim(SessionClaim, session.Id.ToString()),
                new Claim(ClaimTypes.NameIdentifier, "customer:" + session.Id.ToString("N", CultureInfo.InvariantCulture)),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    /// <summary>The session a customer principal holds the link of.</summary>
    public static Guid SessionOf(ClaimsPrincipal user) => Guid.Parse(user.FindFirstValue(SessionClaim)!, CultureInfo.InvariantCulture);
}
