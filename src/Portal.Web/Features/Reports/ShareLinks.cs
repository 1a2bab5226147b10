using Microsoft.EntityFrameworkCore;
using Portal.Core.Sessions;
using Portal.Data;

namespace Portal.Web.Features.Reports;

/// <summary>A share link as engineers see it (never its token).</summary>
public sealed record ShareLinkSummary(Guid Id, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? RevokedAt, bool Active);

/// <summary>A new share link, with the only copy of its URL.</summary>
public sealed record CreatedShareLink(Guid Id, string Url, DateTimeOffset ExpiresAt);

/// <summary>
/// Read-only links to a session's report for people without an account. Their tokens are as strong as customer
/// links' (256 bits), only their hashes are stored, and they expire and can be revoked.
/// </summary>
public sealed class ShareLinks(IDbContextFactory<PortalDbContext> contexts, TimeProvider time)
{
    /// <summary>The longest a share link may live.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(30);

    /// <summary>How long a share link lives unless asked otherwise.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromDays(7);

    /// <summary>The path of a share link's page.</summary>
    public static string Path(string token) => $"/shared/{token}";

    /// <summary>Creates a link to the session's report; null when the session does not exist.</summary>
    public async Task<(CreatedShareLink? Link, string? Problem)> CreateAsync(Guid sessionId, string baseUrl, TimeSpan? lifetime, string? userId, CancellationToken cancellationToken)
    {
        var life = lifetime ?? DefaultLifetime;
        if (life <= TimeSpan.Zero || life > MaxLifetime)
        {
            return (null, $"A share link lives between 1 hour and {MaxLifetime.TotalDays:0} days.");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!await db.Sessions.AnyAsync(s => s.Id == sessionId, cancellationToken))
        {
            return (null, null);
        }

        var token = CapabilityToken.Create();
        var now = time.GetUtcNow();
        var link = new ShareLink { Id = Guid.CreateVersion7(), SessionId = sessionId, TokenHash = CapabilityToken.Hash(token), CreatedById = userId, CreatedAt = now, ExpiresAt = now + life };
        db.ShareLinks.Add(link);
        await db.SaveChangesAsync(cancellationToken);
        await Sessions.SessionService.NotifyAsync(db, sessionId, cancellationToken);
        return (new CreatedShareLink(link.Id, baseUrl.TrimEnd('/') + Path(token), link.ExpiresAt), null);
    }

    /// <summary>The session's share links, newest first.</summary>
    public async Task<IReadOnlyList<ShareLinkSummary>> ListAsync(Guid sessionId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        return await db.ShareLinks.AsNoTracking().Where(l => l.SessionId == sessionId).OrderByDescending(l => l.CreatedAt)
            .Select(l => new ShareLinkSummary(l.Id, l.CreatedAt, l.ExpiresAt, l.RevokedAt, l.RevokedAt == null && l.ExpiresAt > now))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Revokes a link of the session at once. False when there is no such link.</summary>
    public async Task<bool> RevokeAsync(Guid sessionId, Guid linkId, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        var changed = await db.ShareLinks.Where(l => l.Id == linkId && l.SessionId == sessionId)
            .ExecuteUpdateAsync(u => u.SetProperty(l => l.RevokedAt, l => l.RevokedAt ?? now), cancellationToken);
        if (changed > 0)
        {
            await Sessions.SessionService.NotifyAsync(db, sessionId, cancellationToken);
        }

        return changed > 0;
    }

    /// <summary>The session a token opens; <c>Gone</c> when the link expired or was revoked.</summary>
    public async Task<(Guid? SessionId, bool Gone)> ResolveAsync(string? token, CancellationToken cancellationToken)
    {
        if (!CapabilityToken.IsWellFormed(token))
        {
            return (null, false);
        }

        var hash = CapabilityToken.Hash(token!);
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var link = await db.ShareLinks.AsNoTracking().FirstOrDefaultAsync(l => l.TokenHash == hash, cancellationToken);
        if (link is null)
        {
            return (null, false);
        }

        return link.RevokedAt is not null || link.ExpiresAt <= time.GetUtcNow() ? (null, true) : (link.SessionId, false);
    }
}
