using Microsoft.EntityFrameworkCore;
using Portal.Core.Sessions;
using Portal.Data;

namespace Portal.Web.Features.CustomerLink;

/// <summary>What a customer link leads to.</summary>
public enum LinkState
{
    /// <summary>No session has this token (or the text is not a token at all).</summary>
    Unknown,

    /// <summary>The session exists but its link has expired, was revoked, or the session is closed.</summary>
    Expired,

    /// <summary>The link is good.</summary>
    Valid,
}

/// <summary>Resolves customer-link tokens to sessions by their hash.</summary>
public static class CustomerLinks
{
    /// <summary>Looks a token up; the token itself never leaves this method except as its hash.</summary>
    public static async Task<(LinkState State, DiagnosticSession? Session)> ResolveAsync(
        PortalDbContext db, string? token, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!CapabilityToken.IsWellFormed(token))
        {
            return (LinkState.Unknown, null);
        }

        var hash = CapabilityToken.Hash(token!);
        var session = await db.Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.TokenHash == hash, cancellationToken);
        if (session is null)
        {
            return (LinkState.Unknown, null);
        }

        // A revoked link has expired at the moment it was revoked; a closed session takes no more runs until reopened.
        return session.ExpiresAt <= now || session.Status == SessionStatus.Closed ? (LinkState.Expired, session) : (LinkState.Valid, session);
    }

    /// <summary>The customer URL of a token on the given base, e.g. <c>https://portal.example.com</c>.</summary>
    public static string Url(string baseUrl, string token) => $"{baseUrl.TrimEnd('/')}/t/{token}";
}
