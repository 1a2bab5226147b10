using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Portal.Data;
using Portal.Web.Features.Accounts;

namespace Portal.Web.Features.Admin;

/// <summary>A console account as admins see it.</summary>
public sealed record UserSummary(string Id, string Email, IReadOnlyList<string> Roles, bool Disabled, bool Invited, DateTimeOffset CreatedAt);

/// <summary>A new account and the link its owner sets a password with (shown once).</summary>
public sealed record InvitedUser(string Id, string Email, string Role, string InvitePath);

/// <summary>An API key as admins see it: never the key itself.</summary>
public sealed record ApiKeySummary(Guid Id, string Name, string Prefix, string UserEmail, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A new API key, with the only copy of the key.</summary>
public sealed record CreatedApiKey(Guid Id, string Name, string Key, string Prefix);

/// <summary>Users, roles and API keys: what only admins may change.</summary>
public sealed class AdminService(UserManager<PortalUser> users, IDbContextFactory<PortalDbContext> contexts, TimeProvider time)
{
    /// <summary>Every account, oldest first.</summary>
    /// <summary>
    /// Whether the account is an admin now, by the database: an open console's claims are as old as its circuit, and a
    /// demotion or a disabling must stop the very next admin change, not the next revalidation.
    /// </summary>
    public async Task<bool> IsAdminNowAsync(string userId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var user = await users.FindByIdAsync(userId);
        return user is { DisabledAt: null } && await users.IsInRoleAsync(user, Accounts.Roles.Admin);
    }

    public async Task<IReadOnlyList<UserSummary>> ListUsersAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        var rows = await db.Users.AsNoTracking().OrderBy(u => u.CreatedAt)
            .Select(u => new
            {
                u.Id, u.Email, u.CreatedAt, u.DisabledAt, u.PasswordHash,
                Roles = db.UserRoles.Where(r => r.UserId == u.Id).Join(db.Roles, ur => ur.RoleId, r => r.Id, (_, r) => r.Name!).ToList(),
            })
            .ToListAsync(cancellationToken);
        return [.. rows.Select(u => new UserSummary(u.Id, u.Email ?? "", u.Roles, u.DisabledAt != null, u.PasswordHash == null, u.CreatedAt))];
    }

    /// <summary>Creates an account without a password and returns the link that lets its owner choose one.</summary>
    public async Task<(InvitedUser? User, string? Problem)> InviteAsync(string? email, string? role, CancellationToken cancellationToken)
    {
        role ??= Roles.Engineer;
        if (!Roles.All.Contains(role))
        {
            return (null, $"The role must be one of {string.Join(", ", Roles.All)}.");
        }

        if (string.IsNullOrWhiteSpace(email) || email.Length > 256 || !new System.ComponentModel.DataAnnotations.EmailAddressAttribute().IsValid(email))
        {
            return (null, "A valid e-mail address of at most 256 characters is required.");
        }

        var user = new PortalUser { UserName = email.Trim(), Email = email.Trim(), EmailConfirmed = true, CreatedAt = time.GetUtcNow() };
        var created = await users.CreateAsync(user);
        if (!created.Succeeded)
        {
            return (null, string.Join(" ", created.Errors.Select(e => e.Description)));
        }

        await users.AddToRoleAsync(user, role);
        var token = await users.GeneratePasswordResetTokenAsync(user);
        var path = $"/account/invite?user={Uri.EscapeDataString(user.Id)}&token={Uri.EscapeDataString(token)}";
        return (new InvitedUser(user.Id, user.Email!, role, path), null);
    }

    /// <summary>Disables or enables an account: a disabled one can neither log in nor use its API keys.</summary>
    public async Task<string?> SetDisabledAsync(string userId, bool disabled, string actingUserId, CancellationToken cancellationToken)
    {
        if (disabled && userId == actingUserId)
        {
            return "You cannot disable your own account.";
        }

        var user = await users.FindByIdAsync(userId);
        if (user is null)
        {
            return "No account has this id.";
        }

        user.DisabledAt = disabled ? user.DisabledAt ?? time.GetUtcNow() : null;
        await users.UpdateAsync(user);
        // A new security stamp ends the account's console sessions at their next request (and open consoles within
        // the revalidation interval).
        await users.UpdateSecurityStampAsync(user);
        return null;
    }

    /// <summary>Gives an account exactly one role.</summary>
    public async Task<string?> SetRoleAsync(string userId, string role, string actingUserId, CancellationToken cancellationToken)
    {
        if (!Roles.All.Contains(role))
        {
            return $"The role must be one of {string.Join(", ", Roles.All)}.";
        }

        if (userId == actingUserId && role != Roles.Admin)
        {
            return "You cannot take the admin role from yourself.";
        }

        var user = await users.FindByIdAsync(userId);
        if (user is null)
        {
            return "No account has this id.";
        }

        await users.RemoveFromRolesAsync(user, (await users.GetRolesAsync(user)).Where(r => r != role));
        if (!await users.IsInRoleAsync(user, role))
        {
            await users.AddToRoleAsync(user, role);
        }

        await users.UpdateSecurityStampAsync(user);
        return null;
    }

    /// <summary>Every API key, newest first.</summary>
    public async Task<IReadOnlyList<ApiKeySummary>> ListKeysAsync(CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        return await db.ApiKeys.AsNoTracking().OrderByDescending(k => k.CreatedAt)
            .Join(db.Users, k => k.UserId, u => u.Id, (k, u) => new ApiKeySummary(k.Id, k.Name, k.Prefix, u.Email ?? "", k.CreatedAt, k.RevokedAt))
            .ToListAsync(cancellationToken);
    }

    /// <summary>Creates a key acting as a user; the key is returned once and only its hash is kept.</summary>
    public async Task<(CreatedApiKey? Key, string? Problem)> CreateKeyAsync(string? name, string userId, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 100)
        {
            return (null, "A name of 1 to 100 characters is required.");
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (!await db.Users.AnyAsync(u => u.Id == userId, cancellationToken))
        {
            return (null, "No account has this id.");
        }

        var key = ApiKeys.NewKey();
        var entity = new ApiKey { Id = Guid.CreateVersion7(), Name = name.Trim(), KeyHash = ApiKeys.Hash(key), Prefix = key[..(ApiKeys.Prefix.Length + 4)], UserId = userId, CreatedAt = time.GetUtcNow() };
        db.ApiKeys.Add(entity);
        await db.SaveChangesAsync(cancellationToken);
        return (new CreatedApiKey(entity.Id, entity.Name, key, entity.Prefix), null);
    }

    /// <summary>Revokes a key at once. False when there is no such key.</summary>
    public async Task<bool> RevokeKeyAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var now = time.GetUtcNow();
        return await db.ApiKeys.Where(k => k.Id == id).ExecuteUpdateAsync(u => u.SetProperty(k => k.RevokedAt, k => k.RevokedAt ?? now), cancellationToken) > 0;
    }
}
